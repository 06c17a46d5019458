"""Errors in Stripe's shape: ``{"error": {"type", "code", "message", "param"}}``.

Status codes as https://docs.stripe.com/api/errors lists them (400 bad params,
401 bad key, 404 missing resource); ``type`` one of ``api_error``,
``card_error``, ``idempotency_error``, ``invalid_request_error``.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answer in Stripe's shape; ``saved`` says if idempotency keeps it."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        saved: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.saved = saved
        body: dict[str, Any] = {"message": message, "type": type_}
        if code:
            body["code"] = code
            body["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            body["param"] = param
        self.body = {"error": body}


def missing_param(param: str) -> ApiError:
    return ApiError(400, f"Missing required param: {param}.", code="parameter_missing", param=param)
