"""What goes on the wire: replies, the JSON-RPC and JSON-2 error envelopes, werkzeug pages.

``JsonRPCDispatcher.handle_error`` answers HTTP 200 with ``{"code", "message",
"data"}``; JSON-2 answers the serialized exception with its HTTP status (and
``WWW-Authenticate: bearer`` on a 401); werkzeug errors are small HTML pages
(see the package docstring).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

from .errors import OdooError


@dataclass
class Reply:
    """An HTTP answer; ``drop`` closes the connection instead of sending it."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    drop: bool = False


class Dropped(Exception):
    """Raised to abandon a request without answering it."""


def json_reply(payload: Any, status: int = 200, headers: tuple = ()) -> Reply:
    """A JSON answer (``make_json_response``)."""
    return Reply(status, json.dumps(payload, ensure_ascii=False).encode(), headers=headers)


def html_reply(status: int, title: str, description: str) -> Reply:
    """A werkzeug HTML error page."""
    page = (
        "<!doctype html>\n<html lang=en>\n"
        f"<title>{status} {title}</title>\n<h1>{title}</h1>\n<p>{_markup_escape(description)}</p>\n"
    )
    return Reply(status, page.encode(), "text/html; charset=utf-8")


def _markup_escape(text: str) -> str:
    """Escape like markupsafe (werkzeug's error pages): quotes as ``&#39;``/``&#34;``."""
    return html.escape(text).replace("&#x27;", "&#39;").replace("&quot;", "&#34;")


def jsonrpc_error(request_id: Any, error: OdooError, major: int = 19) -> Reply:
    """The legacy JSON-RPC error envelope, HTTP 200: ``code`` 0 in Odoo 19, 200 up to 18.0 (ODOO_NOTES)."""
    code, message = (404, "404: Not Found") if error.name.endswith(".NotFound") else (0, "Odoo Server Error")
    if code == 0 and major < 19:
        code = 200
    envelope = {"code": code, "message": message, "data": error.serialize()}
    return json_reply({"jsonrpc": "2.0", "id": request_id, "error": envelope})


def json2_error(error: OdooError) -> Reply:
    """A JSON-2 error: the serialized exception with its HTTP status."""
    headers = (("WWW-Authenticate", "bearer"),) if error.status == 401 else ()
    return json_reply(error.serialize(), error.status, headers)


def unsupported_media(route_type: str) -> Reply:
    """The 415 Odoo raises when the route's dispatcher refuses the Content-Type."""
    return html_reply(
        415,
        "Unsupported Media Type",
        f"Request inferred type is compatible with ['http'] but '{route_type}' was expected by the route.",
    )


def mimetype(headers) -> str:
    """Content-Type without parameters, lower-cased."""
    return (headers.get("Content-Type") or "").split(";")[0].strip().lower()
