"""Legacy ``POST /jsonrpc`` (JSON-RPC 2.0): services ``common``, ``object`` and ``db``.

``odoo/service/common.py`` (``version``, ``authenticate``/``login`` with the
database check) and ``odoo/service/model.py`` (``res.users.check`` then
``execute``/``execute_kw``); errors in the JSON-RPC envelope, HTTP 200.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .envelopes import Reply, html_reply, json_reply, jsonrpc_error, mimetype, unsupported_media
from .errors import OdooError, builtin_error, missing_error, user_error

if TYPE_CHECKING:
    from .table import LeadTable


class JsonRpcMixin:
    """The legacy JSON-RPC protocol of :class:`~.app.OdooApp` (which provides ``run`` and ``_method``)."""

    # Provided by OdooApp.
    db: str
    login: str
    api_key: str
    uid: int
    major: int
    server_version: str
    version_info: list
    table: LeadTable

    def jsonrpc(self, verb: str, headers, body: bytes) -> Reply:
        """``POST /jsonrpc``: envelope in, envelope out (HTTP 200 even on error)."""
        if verb != "POST":
            return html_reply(405, "Method Not Allowed", "The method is not allowed for the requested URL.")
        if mimetype(headers) not in ("application/json", "application/json-rpc"):
            return unsupported_media("jsonrpc")
        try:
            request = json.loads(body or b"null")
            request_id = request.get("id")
            params = request.get("params", {})
        except ValueError:
            return Reply(400, b"Invalid JSON data", "text/html; charset=utf-8")
        except AttributeError:
            return Reply(400, b"Invalid JSON-RPC data", "text/html; charset=utf-8")
        try:
            if not isinstance(params, dict):
                raise builtin_error("TypeError", "params must be an object")
            service, method, args = _bind_call(("service", "method", "args"), params)
            result = self.dispatch_rpc(service, method, args)
        except OdooError as error:
            return jsonrpc_error(request_id, error, self.major)
        return json_reply({"jsonrpc": "2.0", "id": request_id, "result": result})

    def dispatch_rpc(self, service: str, method: str, args: Any) -> Any:
        """``odoo.http.dispatch_rpc``: common / object / db services."""
        args = list(args) if isinstance(args, (list, tuple)) else [args]
        if service == "common":
            return self.common(method, args)
        if service == "object":
            return self.object(method, args)
        if service == "db" and method == "list":
            return [self.db]
        raise builtin_error("KeyError", repr(service))

    def common(self, method: str, args: list) -> Any:
        """``odoo/service/common.py``."""
        if method == "version":
            return {
                "server_version": self.server_version,
                "server_version_info": self.version_info,
                "server_serie": self.server_version,
                "protocol_version": 1,
            }
        if method in ("authenticate", "login"):
            names = (
                ("db", "login", "password", "user_agent_env")
                if method == "authenticate"
                else ("db", "login", "password")
            )
            db, login, password, *_ = _bind_call(names, args)
            self._check_db(db)
            return self.uid if login == self.login and password == self.api_key else False
        raise builtin_error("Exception", f"Method not found: {method}")

    def object(self, method: str, args: list) -> Any:
        """``odoo/service/model.py``: security.check, then execute(_kw)."""
        if len(args) < 3:
            raise builtin_error("TypeError", "execute_kw() missing db, uid or password")
        db, uid, password = args[0], args[1], args[2]
        if isinstance(uid, bool) or not isinstance(uid, (int, str)) or not str(uid).lstrip("-").isdigit():
            raise builtin_error("ValueError", f"invalid literal for int() with base 10: {uid!r}")
        uid = int(uid)
        self._check_credentials(db, uid, password)
        if method == "execute_kw":
            model, name, call_args, call_kwargs = _bind_call(("model", "method", "args", "kw"), args[3:], optional=1)
            return self.execute(uid, model, name, list(call_args or []), dict(call_kwargs or {}))
        if method == "execute":
            model, name, *call_args = args[3:]
            return self.execute(uid, model, name, call_args, {})
        raise builtin_error("NameError", f"Method not available {method}")

    def execute(self, uid: int, model: str, name: str, args: list, kwargs: dict) -> Any:
        """``api.call_kw``: ids first for record methods, context from kwargs."""
        method = self._method(model, name)
        context = kwargs.pop("context", None)
        ids = None
        if not method.model_level:
            if not args:
                raise builtin_error("IndexError", "list index out of range")
            ids, args = args[0], args[1:]
        shape = _create_answer(args) if name == "create" else None
        try:
            return self.run(model, name, uid, context, ids, args, kwargs, shape=shape)
        except TypeError as exc:
            raise builtin_error("TypeError", f"{model}.{name}() {exc}") from None

    def _check_db(self, db: Any) -> None:
        """``Registry(db)`` on a database that does not exist."""
        if db != self.db:
            raise OdooError(
                "psycopg2.OperationalError",
                f'connection to server at "localhost" (127.0.0.1), port 5432 failed: '
                f'FATAL:  database "{db}" does not exist\n',
            )

    def _check_credentials(self, db: Any, uid: int, password: Any) -> None:
        """``res.users.check``: unknown uid -> MissingError, bad key -> AccessDenied."""
        self._check_db(db)
        if uid not in self.table.users:
            raise missing_error("res.users", [uid], uid)
        user = self.table.users[uid]
        if not password or not user["active"] or uid != self.uid or password != self.api_key:
            raise user_error("AccessDenied", "Access Denied")


def _create_answer(args: list) -> Callable[[list[int]], Any]:
    """``odoo/api.py`` ``_call_kw_model_create`` (19.0): after the insert,
    ``return result.id if isinstance(args[0], Mapping) else result.ids``. With
    ``vals_list`` passed only as a keyword, ``args[0]`` raises IndexError and
    the whole request is rolled back (ODOO_NOTES "create over /jsonrpc needs
    its values positionally"); the ids drawn stay consumed.
    """

    def shape(ids: list[int]) -> Any:
        if not args:
            raise builtin_error("IndexError", "list index out of range")
        return ids[0] if isinstance(args[0], dict) else ids

    return shape


def _bind_call(names: tuple[str, ...], values: Any, optional: int = 0) -> list:
    """Positional (list) or named (dict) arguments -> values in ``names`` order."""
    if isinstance(values, dict):
        missing = [n for n in names[: len(names) - optional] if n not in values]
        values = [values.get(n) for n in names] if not missing else None
    else:
        values = list(values)
        if len(names) - optional <= len(values) <= len(names):
            values += [None] * (len(names) - len(values))
        else:
            values = None
    if values is None:
        raise builtin_error("TypeError", f"expected arguments {', '.join(names)}")
    return values


def jsonrpc_method(body: bytes) -> str:
    """Method name of a JSON-RPC call: the ORM method for ``execute_kw``."""
    try:
        params = json.loads(body).get("params", {})
        if params.get("service") == "object" and params.get("method") in ("execute_kw", "execute"):
            return str(params["args"][4])
        return str(params.get("method"))
    except (ValueError, AttributeError, TypeError, IndexError, KeyError):
        return "?"
