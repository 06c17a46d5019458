"""The two hot routes without FastAPI's per-request machinery, for requests of the ordinary shape.

``POST /credits-debit`` and ``GET /credits-state`` are what every client
and every open tab's chip call; profiling showed FastAPI's dependency
solving and routing costing more of the event loop than the debit itself.
This pure-ASGI middleware answers those two routes directly **only** when a
request has the plain shape — a remembered Clerk token, a JSON body
``{"tool", "idempotencyKey"}`` that the model would accept, or ``?limit=N``
— and hands everything else (a new token, the ``Idempotency-Key`` header,
``userId``, anything malformed) to the FastAPI routes unchanged, with the
body it read replayed. The answers are the routes' own: the same service
calls, the same error handler (``errors._credits_error``), the same JSON.
The FastAPI routes stay the definition of the API and of its OpenAPI document.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credits_core.errors import CreditsError
from credits_core.models import CreditsState

from .context import service
from .errors import _credits_error
from .routes.credits import DEFAULT_TAIL, MAX_TAIL, with_runway

_KEY = re.compile(r"[A-Za-z0-9._:-]{1,200}")  # schemas.KEY_PATTERN
_LIMIT = re.compile(rb"limit=(0|[1-9][0-9]{0,2})")
_BODY_KEYS = frozenset({"tool", "idempotencyKey"})
_BODIES = 4096  # rendered state answers kept (see _state_body) ...
_BODY_BYTES = 16_384  # ... each at most this long


class FastPathMiddleware:
    """Answer plain debits and state reads directly; everything else goes to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._bodies: dict[tuple[str, int], tuple[CreditsState, bytes]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = get_route_path(scope)
            if route == "/credits-debit" and scope["method"] == "POST":
                await self._debit(scope, receive, send)
                return
            if route == "/credits-state" and scope["method"] == "GET":
                await self._state(scope, receive, send)
                return
        await self.app(scope, receive, send)

    # -- the two routes ----------------------------------------------------------------
    async def _debit(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        principal = _principal(scope, headers) if headers is not None else None
        if (
            principal is None
            or b"idempotency-key" in headers
            or b"content-length" not in headers  # a declared size: BodyLimitMiddleware already judged it
            or headers.get(b"content-type") != b"application/json"
        ):
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive)
        fields = _debit_fields(body)
        if fields is None:
            await self.app(scope, _replay(messages, receive), send)
            return
        try:
            result = await service().debit_async(principal.user_id, *fields)
        except CreditsError as exc:
            await (await _credits_error(Request(scope), exc))(scope, receive, send)
            return
        await JSONResponse(result.to_dict())(scope, receive, send)

    async def _state(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = scope.get("query_string", b"")
        match = _LIMIT.fullmatch(query) if query else None
        limit = int(match.group(1)) if match else DEFAULT_TAIL
        headers = _headers(scope)
        principal = _principal(scope, headers) if headers is not None else None
        if principal is None or (query and match is None) or limit > MAX_TAIL:
            await self.app(scope, receive, send)
            return
        try:
            state = await service().state_async(principal.user_id, tail=limit)
        except CreditsError as exc:
            await (await _credits_error(Request(scope), exc))(scope, receive, send)
            return
        await Response(self._state_body(state, limit), media_type="application/json")(scope, receive, send)

    def _state_body(self, state: CreditsState, limit: int) -> bytes:
        """The JSON of ``state``, rendered once per change (a chip polls the same answer every 5 s)."""
        # The runway moves with time too: a rendered answer is kept for the same state within one hour.
        key = (state.user_id, limit)
        hour = int(time.time() // 3600)
        hit = self._bodies.get(key)
        if hit is not None and hit[0] == (state, hour):
            return hit[1]
        body = JSONResponse(with_runway(state.to_dict(), state.user_id)).body
        if len(body) > _BODY_BYTES:  # bounded memory: long tails are rendered each time
            return body
        if len(self._bodies) >= _BODIES:
            self._bodies.pop(next(iter(self._bodies)))
        self._bodies[key] = ((state, hour), body)
        return body


def _headers(scope: Scope) -> dict[bytes, bytes] | None:
    """Request headers by (lower-case) name; None when a name repeats (the routes judge those)."""
    raw = scope["headers"]
    out = dict(raw)
    return out if len(out) == len(raw) else None


def _principal(scope: Scope, headers: dict[bytes, bytes]) -> Any:
    """The Clerk user of an already verified token (``TokenCache.cached``), else None."""
    verifier = scope["app"].state.credits_context.verifier
    auth = headers.get(b"authorization")
    if verifier is None or auth is None:
        return None
    return verifier.cached(auth.decode("latin-1"))


async def _read_body(receive: Receive) -> tuple[list[Message], bytes]:
    messages, chunks = [], []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return messages, b"".join(chunks)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    async def replayed() -> Message:
        return messages.pop(0) if messages else await receive()

    return replayed


def _debit_fields(body: bytes) -> tuple[str, str] | None:
    """``(tool, key)`` when ``DebitIn`` would accept ``body`` with a key in it; else None (the route decides)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if type(data) is not dict or not data.keys() <= _BODY_KEYS:
        return None
    tool, key = data.get("tool"), data.get("idempotencyKey")
    if type(tool) is not str or not 1 <= len(tool) <= 64 or type(key) is not str or not _KEY.fullmatch(key):
        return None
    return tool, key
