"""JSON-2 ``POST /json/2/<model>/<method>`` with a bearer API key (new in Odoo 19).

``addons/web/controllers/json2.py`` dispatch and ``ir_http._auth_method_bearer``
(see the package docstring): 401/404/405/415/422 as Odoo answers them.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from .envelopes import Reply, html_reply, json2_error, json_reply, mimetype, unsupported_media
from .errors import OdooError, http_error
from .fields import MODEL

if TYPE_CHECKING:
    from .table import LeadTable

MISSING_KEY_MSG = "User not authenticated, use an API Key with a Bearer Authorization header."


class Json2Mixin:
    """The JSON-2 protocol of :class:`~.app.OdooApp` (which provides ``run`` and ``_method``)."""

    # Provided by OdooApp.
    db: str
    api_key: str
    uid: int
    table: LeadTable

    def json2(self, verb: str, headers, body: bytes, model: str, method_name: str) -> Reply:
        """``POST /json/2/<model>/<method>`` (addons/web/controllers/json2.py)."""
        if mimetype(headers) != "application/json":
            return unsupported_media("/json/2/rpc")
        database = headers.get("X-Odoo-Database")
        if database is not None and database != self.db:
            return html_reply(404, "Not Found", "The requested URL was not found on the server.")
        try:
            self._check_bearer(headers.get("Authorization"))
            params = _json2_params(body)
            return json_reply(self._json2_call(verb, model, method_name, params))
        except OdooError as error:
            return json2_error(error)

    def _check_bearer(self, header: str | None) -> None:
        """``_auth_method_bearer``: 401 without a key or with a wrong one."""
        match = re.match(r"^bearer\s+(.+)$", header or "", re.IGNORECASE)
        if not match:
            raise http_error(401, MISSING_KEY_MSG)
        if match.group(1).strip() != self.api_key:
            raise http_error(401, "Invalid apikey")

    def _json2_call(self, verb: str, model: str, method_name: str, params: dict) -> Any:
        """Check method and arguments, then run it."""
        if verb != "POST":
            raise http_error(405, "The method is not allowed for the requested URL.")
        if model != MODEL:
            raise http_error(404, f"the model {model!r} does not exist")
        try:
            method = self._method(model, method_name)
        except OdooError as error:
            raise http_error(404, error.message) from None
        ids = params.pop("ids", ())
        context = params.pop("context", {})
        if method.model_level and ids:
            raise http_error(422, f"cannot call {model}.{method_name} with ids")
        try:
            method.signature(self.table).bind(**params)
        except TypeError as exc:
            raise http_error(422, exc.args[0]) from None
        return self.run(model, method_name, self.uid, context, ids, [], params)


def _json2_params(body: bytes) -> dict:
    """``Json2RpcDispatcher.dispatch``: ``params |= json body`` with its errors."""
    params: dict = {}
    if not body:
        return params
    try:
        params |= json.loads(body)
    except ValueError as exc:
        raise http_error(400, f"could not parse the body as json: {exc.args[0]}") from None
    except TypeError:
        raise http_error(400, "could not parse the body, expecting a json object") from None
    return params
