"""Routing of the three wire formats, and the ORM methods they may call.

``GET /web/version``, ``POST /jsonrpc`` (:mod:`.jsonrpc`) and
``POST /json/2/<model>/<method>`` (:mod:`.json2`, Odoo 19 only); every ORM
call is bound to its signature and runs in one table transaction.
"""

from __future__ import annotations

import datetime as dt
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .envelopes import Reply, html_reply, json_reply
from .errors import builtin_error, user_error
from .fields import MODEL
from .json2 import Json2Mixin
from .jsonrpc import JsonRpcMixin, jsonrpc_method
from .table import Env, LeadTable

# ---------------------------------------------------------------------------
# Method table: which ORM methods are public, and how they bind
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Method:
    """A callable ORM method: ``model_level`` methods refuse ``ids``."""

    name: str
    model_level: bool

    def impl(self, table: LeadTable) -> Callable:
        """The bound LeadTable implementation."""
        return getattr(table, self.name)

    def signature(self, table: LeadTable) -> inspect.Signature:
        """The RPC-visible signature (without ``env`` and ``ids``)."""
        sig = inspect.signature(self.impl(table))
        params = list(sig.parameters.values())[1 if self.model_level else 2 :]
        return sig.replace(parameters=params)


METHODS = {
    method.name: method
    for method in (
        Method("search", True),
        Method("search_count", True),
        Method("search_read", True),
        Method("read", False),
        Method("create", True),
        Method("write", False),
        Method("unlink", False),
        Method("read_group", True),
        Method("formatted_read_group", True),
        Method("fields_get", True),
    )
}


# ---------------------------------------------------------------------------
# Routing
# ---------------------------------------------------------------------------


class OdooApp(JsonRpcMixin, Json2Mixin):
    """Routes requests to the three protocols; holds the table and users."""

    def __init__(self, *, db: str, login: str, api_key: str, uid: int, user_name: str, major: int = 19):
        self.db, self.login, self.api_key, self.uid = db, login, api_key, uid
        self.major = major
        self.version_info = [major, 0, 0, "final", 0, ""]
        self.server_version = f"{major}.0"
        users = {
            1: {"id": 1, "name": "OdooBot", "login": "__system__", "active": False},
            uid: {"id": uid, "name": user_name, "login": login, "active": True},
        }
        self.table = LeadTable(users)
        self.clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None)

    # -- labels for counting and faults -----------------------------------------

    @staticmethod
    def label(path: str, body: bytes) -> tuple[str, str]:
        """``(protocol, method)`` of a request, for calls() and fault filters."""
        if path == "/web/version":
            return "web", "version"
        if path.startswith("/json/2/"):
            return "json2", path.rstrip("/").rsplit("/", 1)[-1]
        if path == "/jsonrpc":
            return "jsonrpc", jsonrpc_method(body)
        return "http", path

    # -- dispatch ------------------------------------------------------------------

    def handle(self, verb: str, path: str, headers, body: bytes) -> Reply:
        """Answer one HTTP request."""
        if path == "/web/version":
            return json_reply({"version_info": self.version_info, "version": self.server_version})
        if path == "/jsonrpc":
            return self.jsonrpc(verb, headers, body)
        match = re.fullmatch(r"/json/2/([\w.]+)/(\w+)", path)
        if match and self.major >= 19:  # JSON-2 is new in Odoo 19
            return self.json2(verb, headers, body, match.group(1), match.group(2))
        return html_reply(404, "Not Found", "The requested URL was not found on the server.")

    def run(
        self,
        model: str,
        method_name: str,
        uid: int,
        context: Any,
        ids: Any,
        args: list,
        kwargs: dict,
        shape: Callable[[Any], Any] | None = None,
    ) -> Any:
        """Bind and run an ORM method in one transaction (``shape`` builds the answer inside it)."""
        method = self._method(model, method_name)
        env = Env(uid, dict(context or {}), self.clock())
        impl = method.impl(self.table)
        bound = method.signature(self.table).bind(*args, **kwargs)
        with self.table.transaction():
            if method.model_level:
                result = impl(env, *bound.args, **bound.kwargs)
            else:
                result = impl(env, ids, *bound.args, **bound.kwargs)
            return shape(result) if shape else result

    def _method(self, model: str, name: str) -> Method:
        """The public method, or the AttributeError Odoo raises."""
        if model != MODEL:
            raise user_error("UserError", f"Object {model} doesn't exist")
        if name.startswith("_"):
            raise builtin_error(
                "AttributeError", f"Private methods (such as '{model}.{name}') cannot be called remotely."
            )
        if name not in METHODS:
            raise builtin_error("AttributeError", f"The method '{model}.{name}' does not exist")
        return METHODS[name]
