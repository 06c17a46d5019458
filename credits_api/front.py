"""How the server fronts the API: ``ApiFront`` and ``settle_heap`` (both used by ``app.py``).

``ApiFront``: ``/api`` requests go straight to the API app, ahead of Streamlit's middleware.

``st.App`` wraps every request in Streamlit's own stack before routing it —
path security (for its static files), the signed session cookie of
``st.login``, gzip of page assets — and only then reaches the ``Mount("/api")``.
The API needs none of it: it has Bearer tokens and its own body limit, error
handler and JSON answers. Installed as ``st.App`` user middleware (which runs
before Streamlit's, see ``streamlit/web/server/starlette/starlette_app.py``,
``_build_starlette_app``), this dispatcher hands ``/api/…`` to the same mounted
app with the same scope a ``Mount`` gives it (``root_path`` ``/api``), so the
routes, the OpenAPI document and every answer are unchanged; every other path
(pages, websockets, static files) goes through Streamlit as before.
Measured A/B, same machine, alternating servers: the bare JSON route went from
1,238–1,420 to 1,528–1,881 req/s (2026-12-03, loaded machine).
"""

from __future__ import annotations

import gc

from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send


class ApiFront:
    """Pure-ASGI middleware: dispatch ``mount``'s paths to its app, everything else to ``app``."""

    def __init__(self, app: ASGIApp, mount: Mount) -> None:
        self.app = app
        self.mount = mount

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            match, child = self.mount.matches(scope)
            if match is Match.FULL:
                await self.mount.app({**scope, **child}, receive, send)
                return
        await self.app(scope, receive, send)


def settle_heap() -> None:
    """Freeze the start-up heap and collect the young generation less often.

    After start-up the process holds hundreds of thousands of long-lived
    objects (Streamlit, FastAPI, pandas, the registry); every full collection
    walked them all, and under debit load those pauses were the p99: with
    ``gc.freeze()`` and a larger first threshold, the same-run p99 of
    ``bench/bench_http.py``'s debit load fell from 281–289 ms to 92–105 ms on
    a loaded machine, throughput unchanged (2026-12-03). Objects made later are
    still collected as usual (https://docs.python.org/3/library/gc.html#gc.freeze).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)
