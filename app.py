"""Entry point: `streamlit run app.py` serves the pages and `/api` on one port.

Streamlit runs this file twice over: uvicorn imports it as the module `app`
(to find the ASGI `app` below, with the API mounted at /api), and the script
runner executes it as `__main__` for every page view (st.navigation).
"""

import streamlit as st

if __name__ == "__main__":
    from credits_ui.main import main

    main()
else:
    import sys

    from starlette.middleware import Middleware
    from starlette.routing import Mount

    from credits_api import create_api
    from credits_api.front import ApiFront, settle_heap
    from credits_core.errors import ConfigError

    try:
        api = create_api()
    except ConfigError as exc:  # a bad variable stops the server with one clear line, no traceback
        print(f"configuration error: {exc.message}", file=sys.stderr, flush=True)
        sys.exit(2)
    api_mount = Mount("/api", app=api)
    # The Mount keeps /api a route of the app; ApiFront serves it ahead of Streamlit's middleware.
    app = st.App(__file__, routes=[api_mount], middleware=[Middleware(ApiFront, mount=api_mount)])
    settle_heap()
