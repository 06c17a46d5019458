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
    from starlette.routing import Mount

    from credits_api import create_api

    app = st.App(__file__, routes=[Mount("/api", app=create_api())])
