"""The OpenAPI document at ``/api/openapi.json``: error answers documented per route.

FastAPI documents a 422 ``HTTPValidationError`` on every route with
parameters; this API answers 400 in the shape of ``ErrorOut`` instead
(``errors.py``), so the generated document is corrected to say so
(FastAPI, "Extending OpenAPI", https://fastapi.tiangolo.com/how-to/extending-openapi/).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from .schemas import ErrorOut

_DESCRIPTIONS = {
    400: "Bad request: the message and `problems` name every bad field",
    401: "Missing or bad Clerk session token (`WWW-Authenticate: Bearer`)",
    402: "Insufficient credits (enforce mode): `required`, `balance`, `topUp`",
    403: "Forbidden: plan required, admin header missing or wrong, or another user's resource",
    404: "Not found",
    409: "Conflict: idempotency key reused, registry changed meanwhile, or checkout not paid",
    413: "Request body larger than 64 KiB",
    500: "Internal error (generic message and an incident id; never a stack trace)",
    502: "The payment provider failed or refused the request",
    503: "Ledger, Clerk keys or payments unavailable or not configured",
}

_EXAMPLES: dict[int, dict[str, Any]] = {
    400: {"code": "unknown_tool", "message": "unknown tool 'ask_aj'", "tool": "ask_aj"},
    401: {"code": "unauthorized", "message": "token expired"},
    402: {
        "code": "insufficient_credits",
        "message": "Ask AI costs 1 credits and your balance is 0",
        "tool": "ask_ai",
        "required": 1,
        "balance": {"total": 0, "included": 0, "purchased": 0},
        "topUp": {
            "packs": [{"id": "pack_100", "label": "100 credits", "credits": 100}],
            "accountUrl": "https://app.example/account#credits",
        },
    },
    403: {"code": "plan_required", "message": "Valuation model needs the Intelligence plan or higher"},
    404: {"code": "not_found", "message": "no debit with idempotencyKey 'q-1'"},
    409: {"code": "idempotency_conflict", "message": "this idempotencyKey was already used for another request"},
    413: {"code": "payload_too_large", "message": "request body is larger than 64 KiB", "limit": 65536},
    500: {"code": "internal_error", "message": "internal error; quote incident 1a2b3c4d5e6f to support"},
    502: {
        "code": "payment_provider_error",
        "message": "Could not reach the payment provider.",
        "reason": "unreachable",
    },
    503: {"code": "ledger_unavailable", "message": "the ledger is busy; try again; nothing was written"},
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status with the error schema and an example.

    400, 413, 500 and 503 are added to every route: any request can be
    malformed or too large, and the ledger can be unavailable.
    """
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted({*statuses, 400, 413, 500, 503}):
        out[status] = {
            "model": ErrorOut,
            "description": _DESCRIPTIONS[status],
            "content": {"application/json": {"example": {"error": _EXAMPLES[status]}}},
        }
    return out


def install_openapi(app: FastAPI) -> None:
    """Replace ``app.openapi`` by a generator without FastAPI's 422 answers."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                servers=app.servers,
                tags=app.openapi_tags,
            )
            for path_item in doc.get("paths", {}).values():
                for operation in path_item.values():
                    if isinstance(operation, dict):
                        operation.get("responses", {}).pop("422", None)
            schemas = doc.get("components", {}).get("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
