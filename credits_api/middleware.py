"""Two pure-ASGI middlewares: a request-body limit and the last-resort 500.

Pure ASGI (not ``BaseHTTPMiddleware``) so they add no task or stream per
request (Starlette docs, "Middleware — Pure ASGI Middleware",
https://www.starlette.io/middleware/#pure-asgi-middleware).
"""

from __future__ import annotations

import json
import logging
import secrets
import traceback
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import MAX_BODY_BYTES, error_body, redact

log = logging.getLogger("credits_api")


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": data})


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes with 413 ``payload_too_large``.

    A declared ``Content-Length`` over the limit is refused before the app
    runs; a chunked body is counted as it is read and the read raises an
    ``HTTPException(413)``, which FastAPI re-raises from its body reader and
    the error handlers shape like every other error.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
                break
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await _send_json(send, 400, error_body("bad_request", "Content-Length is not a number"))
                return
            if size > self.limit:
                await _send_json(send, 413, _too_large(self.limit))
                return
            await self.app(scope, receive, send)  # the server enforces Content-Length itself
            return

        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413)
            return message

        await self.app(scope, counted, send)


def _too_large(limit: int) -> dict[str, Any]:
    return error_body("payload_too_large", f"request body is larger than {limit // 1024} KiB", limit=limit)


class CatchAllMiddleware:
    """Any exception no handler translated becomes 500 ``internal_error``.

    The client gets a generic message and an incident id; the log gets the
    traceback with secrets redacted (``errors.redact``). Nothing is re-raised,
    so neither Starlette's ServerErrorMiddleware nor uvicorn print the raw
    traceback a second time.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            incident = secrets.token_hex(6)
            log.error(
                "unhandled %s in %s %s (incident %s)\n%s",
                type(exc).__name__,
                scope.get("method"),
                scope.get("path"),
                incident,
                redact(traceback.format_exc()),
            )
            if not started:
                body = error_body("internal_error", f"internal error; quote incident {incident} to support")
                await _send_json(send, 500, body)
