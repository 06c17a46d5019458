"""One translation of every failure into ``{"error": {"code", "message", ...}}``.

    CreditsError (credits_core.errors: every engine, auth and payment error)
                              → its own ``http_status``; ``to_dict()`` is the body
    RequestValidationError    → 400 bad_request, ``problems`` names every bad field
                                (FastAPI's own answer would be 422; SPEC §5 wants 400)
    malformed JSON body       → 400 bad_request
    body over 64 KiB          → 413 payload_too_large (see ``middleware.py``)
    HTTPException (404, 405…) → same status, a code named after it
    anything else             → 500 internal_error, generic message + incident id;
                                the traceback is logged with secrets redacted

No answer ever carries a stack trace, a token or a key. 401 answers carry
``WWW-Authenticate: Bearer`` (RFC 6750 §3: ``error="invalid_token"`` only when
a token was presented).

FastAPI docs relied on: "Handling Errors — Override request validation
exceptions" (https://fastapi.tiangolo.com/tutorial/handling-errors/) and
"Additional Responses in OpenAPI" (https://fastapi.tiangolo.com/advanced/additional-responses/).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from credits_core.errors import CreditsError

log = logging.getLogger("credits_api")

MAX_BODY_BYTES = 64 * 1024
# 5xx answers that are the configuration working as intended: logged at INFO.
_QUIET_CODES = frozenset({"payments_disabled", "auth_not_configured"})

# Codes for statuses that reach us as plain HTTPExceptions (routing, body reading).
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}


def error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    """The one error shape of the API."""
    return {"error": {"code": code, "message": message, **details}}


def error_response(
    status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None, **details: Any
) -> JSONResponse:
    """A JSONResponse with the error shape."""
    return JSONResponse(error_body(code, message, **details), status_code=status, headers=dict(headers or {}))


def _challenge(request: Request) -> dict[str, str]:
    """``WWW-Authenticate`` for a 401 (RFC 6750 §3)."""
    if request.headers.get("authorization"):
        return {"WWW-Authenticate": 'Bearer realm="credits", error="invalid_token"'}
    return {"WWW-Authenticate": 'Bearer realm="credits"'}


async def _credits_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CreditsError)
    status = int(exc.http_status)
    headers = _challenge(request) if status == 401 else {}
    if status >= 500:
        level = logging.INFO if exc.code in _QUIET_CODES else logging.WARNING
        extra = getattr(exc, "provider_request_id", None)
        log.log(
            level,
            "%s %s -> %s %s: %s%s",
            request.method,
            request.url.path,
            status,
            exc.code,
            redact(exc.message),
            f" (provider request {extra})" if extra else "",
        )
    body = {"error": jsonable_encoder(exc.to_dict())}
    return JSONResponse(body, status_code=status, headers=headers)


def _field_of(loc: Iterable[Any]) -> str:
    """``("body", "tool")`` → ``tool``; ``("query", "limit")`` → ``limit``; header names as sent."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "header", "path", "cookie"):
        where, parts = parts[0], parts[1:]
        if not parts:
            return "body" if where == "body" else where
    return ".".join(parts)


def _problem(err: Mapping[str, Any]) -> dict[str, str]:
    field = _field_of(err.get("loc", ()))
    kind = err.get("type", "")
    if kind == "missing":
        message = "is required"
    elif kind == "extra_forbidden":
        message = "is not a known field"
    else:
        message = str(err.get("msg", "is not valid"))
        message = message[0].lower() + message[1:] if message else "is not valid"
    # The input value is never echoed: it could be a token or someone else's data.
    return {"field": field, "message": message}


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if bad_json is not None:
        reason = (bad_json.get("ctx") or {}).get("error", "invalid JSON")
        loc = list(bad_json.get("loc", ()))
        pos = f" at position {loc[1]}" if len(loc) > 1 else ""
        return error_response(
            400,
            "bad_request",
            f"request body is not valid JSON ({reason}{pos})",
            problems=[{"field": "body", "message": "is not valid JSON"}],
        )
    if _not_json(request, errors):
        return error_response(
            400,
            "bad_request",
            "request body must be a JSON object sent with Content-Type: application/json",
            problems=[{"field": "body", "message": "must be JSON (Content-Type: application/json)"}],
        )
    problems = list({(p["field"], p["message"]): p for p in map(_problem, errors)}.values())
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return error_response(400, "bad_request", f"invalid request: {summary}", problems=problems)


def _not_json(request: Request, errors: list[Any]) -> bool:
    """A body sent without a JSON content type (FastAPI then sees bytes, not an object)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    is_json = ctype == "application/json" or ctype.endswith("+json")
    return not is_json and any(tuple(e.get("loc", ())) == ("body",) for e in errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = _HTTP_CODES.get(status, "http_error")
    if status == 404:
        message = f"no route {request.method} {request.url.path}"
    elif status == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    elif status == 413:
        message = f"request body is larger than {MAX_BODY_BYTES // 1024} KiB"
    elif isinstance(exc.detail, str) and exc.detail:
        message = exc.detail
    else:
        message = code.replace("_", " ")
    headers = dict(exc.headers or {})
    if status == 401:
        headers.update(_challenge(request))
    return error_response(status, code, message, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Register the translations above on ``app`` (unknown errors: ``middleware.py``)."""
    app.add_exception_handler(CreditsError, _credits_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


# -- secrets never in logs -------------------------------------------------------------

_SECRET_ENV = (
    "CLERK_SECRET_KEY",
    "CLERK_JWT_KEY",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "CZ_REGISTRY_ADMIN_SECRET",
    "ODOO_API_KEY",
    "ODOO_PASSWORD",
)
_SECRET_PATTERNS = re.compile(
    r"(?:eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*)"  # a JWT
    r"|(?:(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{6,})"  # Stripe keys
    r"|(?:whsec_[A-Za-z0-9_]{6,})"  # Stripe webhook secrets
    r"|(?i:bearer\s+[A-Za-z0-9._~+/=-]{8,})"  # Authorization values
)


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with configured secrets and anything token- or key-shaped replaced by ``***``."""
    env = os.environ if environ is None else environ
    for name in _SECRET_ENV:
        value = (env.get(name) or "").strip()
        if len(value) >= 6:
            text = text.replace(value, f"***{name}***")
    return _SECRET_PATTERNS.sub("***", text)
