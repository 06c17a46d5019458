"""``create_api()``: the FastAPI app that ``app.py`` mounts at ``/api`` inside ``st.App``.

Mounted as a sub-application, FastAPI sees ``root_path="/api"``; its own
paths are ``/credits-matrix`` etc. and the OpenAPI document names the
server ``/api`` (FastAPI, "Sub Applications - Mounts",
https://fastapi.tiangolo.com/advanced/sub-applications/).

Start-up (``create_api()`` runs when uvicorn imports ``app.py``): the
settings, the Clerk verifier and the Stripe gateway are built from the
environment, and the ledger store is opened (``shared_service``: SQLite file
writable, Odoo reachable with valid credentials), so a bad ``CZ_*`` /
``ODOO_*`` / ``CLERK_*`` / ``STRIPE_*`` value stops the server at start with a
``ConfigError`` naming the variable instead of failing on a later request.
"""

from __future__ import annotations

import logging
import sys

from fastapi import FastAPI

from credits_core.runtime import shared_service, shared_settings

from .context import build_context
from .errors import install_error_handlers, redact
from .fast_path import FastPathMiddleware
from .middleware import BodyLimitMiddleware, CatchAllMiddleware
from .openapi import install_openapi
from .routes import ADMIN_ROUTERS, ROUTERS

DESCRIPTION = """\
Credits of the Secondary Market product: plans, metered tools, top-up packs.

* **Bearer** routes take a Clerk session token (`Authorization: Bearer <jwt>`);
  a missing or bad token is 401 with `WWW-Authenticate: Bearer`.
* **Admin** routes take the `x-cz-registry-admin` header; a missing or wrong
  header is 403; the admin-only routes are absent (404) when admin access is not configured.
* Every error is `{"error": {"code", "message", ...details}}`; bodies are JSON, at most 64 KiB.
"""


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def _configure_logging() -> None:
    """Give the ``credits_api`` logger a handler of its own (uvicorn configures only its loggers)."""
    logger = logging.getLogger("credits_api")
    if any(getattr(h, "_credits_api", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler._credits_api = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def create_api() -> FastAPI:
    """Build the API app from the process's settings (see module docstring)."""
    _configure_logging()
    settings = shared_settings()  # validates every CZ_/STRIPE_ variable now
    shared_service()  # opens the ledger now: a bad path or Odoo configuration is a start-up error
    api = FastAPI(
        title="Secondary Market credits API",
        version="1.0.0",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        servers=[{"url": "/api"}],
        # OpenTelemetry hooks cost time per request and nothing here exports traces.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    api.state.credits_context = build_context(settings)
    for router in ROUTERS:
        api.include_router(router)
    if settings.registry_admin_secret is not None:
        for router in ADMIN_ROUTERS:
            api.include_router(router)
    if settings.bench_routes and settings.ledger == "sqlite":
        from .bench_routes import bench_router

        api.include_router(bench_router(settings.ledger_path))
    install_error_handlers(api)
    install_openapi(api)
    # add_middleware wraps: the last added runs first.
    api.add_middleware(FastPathMiddleware)
    api.add_middleware(BodyLimitMiddleware)
    api.add_middleware(CatchAllMiddleware)
    return api
