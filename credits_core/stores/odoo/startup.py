"""Configuration of the Odoo store and its start-up check (a problem stops the process, naming the variable).

Configuration: ``ODOO_URL``, ``ODOO_DB``, ``ODOO_USERNAME``, ``ODOO_API_KEY``,
``ODOO_PROTOCOL`` = ``jsonrpc`` (default) or ``json2``, read with every other
variable by ``credits_core.config`` (``OdooSettings``). The constructor checks server, database and key
(``common.version`` + ``common.authenticate`` for jsonrpc, ``/web/version``
for json2, then one authenticated ``fields_get`` of the fields used) and
raises ``ConfigError`` naming the variable; the key is never in a message.
JSON-2 identifies the user by the key alone (``ODOO_USERNAME`` is only
checked by jsonrpc).
"""

from __future__ import annotations

from typing import Any

from ...errors import ConfigError
from .client import OdooClient, OdooError, OdooTransportError

_NEEDED_FIELDS = (
    "name",
    "type",
    "active",
    "expected_revenue",
    "color",
    "partner_name",
    "contact_name",
    "referred",
    "function",
    "city",
    "street",
    "street2",
    "zip",
)


def check_server(client: OdooClient, protocol: str) -> int:
    """Server, version, database, key and fields (module docstring) → the newest ``crm.lead`` id."""
    url = client.url
    try:
        info = client.version()
    except OdooTransportError as exc:
        raise ConfigError(f"ODOO_URL: {client.scrub(exc.message)}", variable="ODOO_URL") from None
    except OdooError:
        raise ConfigError(f"ODOO_URL: {url} does not answer like an Odoo server", variable="ODOO_URL") from None
    major = _major(info)
    if protocol == "json2" and major is not None and major < 19:
        raise ConfigError(f"ODOO_PROTOCOL: json2 needs Odoo 19 or later ({url} runs {major})", variable="ODOO_PROTOCOL")
    try:
        if protocol == "jsonrpc" and client.authenticate() is None:
            raise ConfigError(
                f"ODOO_API_KEY: Odoo refused the login {client.username!r} with this key "
                "(check ODOO_USERNAME and ODOO_API_KEY)",
                variable="ODOO_API_KEY",
            )
        described = client.call("fields_get", allfields=list(_NEEDED_FIELDS), attributes=["type", "store"])
        newest = client.call("search", domain=[], order="id desc", limit=1, context={"active_test": False})
        hi = int(newest[0]) if newest else 0  # ids below: settled (gaps at start-up are for good)
    except OdooTransportError as exc:
        raise ConfigError(f"ODOO_URL: {client.scrub(exc.message)}", variable="ODOO_URL") from None
    except OdooError as exc:
        raise _config_error(client, exc) from None
    absent = [f for f in _NEEDED_FIELDS if f not in (described or {})]
    if absent:
        raise ConfigError(
            f"ODOO_URL: crm.lead on {url} lacks {', '.join(absent)} (is the CRM app installed?)",
            variable="ODOO_URL",
        )
    return hi


def _config_error(client: OdooClient, exc: OdooError) -> ConfigError:
    text = exc.message.lower()
    db = client.db
    if "operationalerror" in exc.name.lower() or "does not exist" in text or exc.status == 404:
        return ConfigError(f"ODOO_DB: database {db!r} was not found on {client.url}", variable="ODOO_DB")
    if exc.status == 401 or exc.session_invalid or "apikey" in text or "api key" in text:
        return ConfigError(
            "ODOO_API_KEY: Odoo refused this API key (revoked, or for another database?)", variable="ODOO_API_KEY"
        )
    return ConfigError(f"ODOO_URL: Odoo refused the start-up check ({client.scrub(exc.short)})", variable="ODOO_URL")


def _major(info: Any) -> int | None:
    if isinstance(info, dict):
        version = info.get("server_version_info") or info.get("version_info")
        if isinstance(version, list) and version and isinstance(version[0], int):
            return version[0]
    return None
