"""Odoo exceptions as they go on the wire (``odoo.http.serialize_exception``).

``name``, ``message``, ``arguments``, ``context`` and ``debug`` (a fake
traceback carrying :data:`DEBUG_MARKER`, which must never reach a user); the
HTTP status each kind maps to follows ``odoo/exceptions.py`` (see the package
docstring).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

DEBUG_MARKER = "FAKE-ODOO-TRACEBACK"


# ---------------------------------------------------------------------------
# Errors, serialized like odoo.http.serialize_exception
# ---------------------------------------------------------------------------


class OdooError(Exception):
    """An exception as Odoo puts it on the wire (name, message, HTTP status)."""

    def __init__(self, name: str, message: str, status: int = 500, arguments: list | None = None):
        super().__init__(message)
        self.name = name
        self.message = message
        self.status = status
        self.arguments = [message] if arguments is None else arguments

    def serialize(self) -> dict[str, Any]:
        """Return the ``serialize_exception`` dict, with a fake traceback."""
        return {
            "name": self.name,
            "message": self.message,
            "arguments": list(self.arguments),
            "context": {},
            "debug": _fake_traceback(self.name, self.message),
        }


_USER_ERROR_STATUS = {
    "UserError": 422,
    "ValidationError": 422,
    "AccessError": 403,
    "AccessDenied": 403,
    "MissingError": 404,
}
_HTTP_NAMES = {
    400: "BadRequest",
    401: "Unauthorized",
    404: "NotFound",
    405: "MethodNotAllowed",
    415: "UnsupportedMediaType",
    422: "UnprocessableEntity",
    500: "InternalServerError",
}


def user_error(kind: str, message: str) -> OdooError:
    """Build an ``odoo.exceptions.<kind>`` (status from ``http_status``)."""
    return OdooError(f"odoo.exceptions.{kind}", message, _USER_ERROR_STATUS[kind])


def builtin_error(kind: str, message: str) -> OdooError:
    """Build a ``builtins.<kind>``: JSON-2 answers those with a 500."""
    return OdooError(f"builtins.{kind}", message, 500)


def http_error(status: int, description: str) -> OdooError:
    """Build a werkzeug HTTP exception as JSON-2 serializes it."""
    name = f"werkzeug.exceptions.{_HTTP_NAMES[status]}"
    return OdooError(name, description, status, [description, status])


def missing_error(model: str, ids: Iterable[int], uid: int) -> OdooError:
    """MissingError with Odoo's text (``Record: crm.lead(9,), User: 2``)."""
    record = f"{model}{tuple(ids)!r}"
    return user_error(
        "MissingError",
        f"Record does not exist or has been deleted.\n(Record: {record}, User: {uid})",
    )


def _fake_traceback(name: str, message: str) -> str:
    """A traceback-looking text carrying DEBUG_MARKER, never to be shown to users."""
    return (
        "Traceback (most recent call last):\n"
        '  File "/opt/odoo/odoo/http.py", line 2180, in _serve_db\n'
        "    return service_model.retrying(serve_func, env=self.env)\n"
        f'  File "/opt/odoo/odoo/{DEBUG_MARKER}.py", line 1, in fake\n'
        f"{name}: {message}\n"
    )
