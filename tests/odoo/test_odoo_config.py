"""Start-up configuration: every bad ODOO_* setting is a ConfigError naming it, never the key."""

from __future__ import annotations

import socket

import pytest

from credits_core.config import load_settings
from credits_core.errors import ConfigError
from credits_core.stores import open_store as open_configured_store
from credits_core.stores.odoo import OdooStore
from tests.odoo.support import KEY, env
from tests.standins.odoo import DEBUG_MARKER


def refused(environ: dict[str, str], variable: str, *words: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        OdooStore.from_env(environ)
    error = info.value
    assert error.details["variable"] == variable, error.message
    assert error.message.startswith(variable) or variable in error.message
    for word in words:
        assert word in error.message, error.message
    assert KEY not in error.message and DEBUG_MARKER not in error.message and "Traceback" not in error.message
    assert error.http_status == 500 and error.code == "config_error"
    return error


@pytest.mark.parametrize("name", ["ODOO_URL", "ODOO_DB", "ODOO_USERNAME", "ODOO_API_KEY"])
def test_each_missing_variable_is_named(fake, protocol, name):
    refused(env(fake, protocol, **{name: None}), name, "not set")
    refused(env(fake, protocol, **{name: "   "}), name, "not set")


def test_all_missing_variables_are_listed(fake):
    error = refused({"ODOO_URL": fake.url}, "ODOO_DB")
    assert error.details["missing"] == ["ODOO_DB", "ODOO_USERNAME", "ODOO_API_KEY"]


def test_a_wrong_key_or_login(fake, protocol):
    refused(env(fake, protocol, ODOO_API_KEY="not-the-key"), "ODOO_API_KEY", "refused")
    if protocol == "jsonrpc":  # JSON-2 identifies the user by the key alone
        refused(env(fake, protocol, ODOO_USERNAME="mallory"), "ODOO_API_KEY", "mallory")


def test_an_unknown_database(fake, protocol):
    refused(env(fake, protocol, ODOO_DB="nope"), "ODOO_DB", "'nope'")


def test_an_unreachable_url(protocol):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    refused(env_of(f"http://127.0.0.1:{port}", protocol), "ODOO_URL", "cannot connect")


def test_not_an_url_or_not_odoo(fake, protocol):
    refused(env(fake, protocol, ODOO_URL="odoo.example.com"), "ODOO_URL", "http")
    refused(env(fake, protocol, ODOO_URL=fake.url + "/not-odoo"), "ODOO_URL")


def test_an_unknown_protocol(fake):
    refused(env(fake, "xmlrpc"), "ODOO_PROTOCOL", "jsonrpc")


def test_a_server_that_hangs_at_start_up(fake, protocol):
    fake.inject("timeout", hang_s=1.0)
    with pytest.raises(ConfigError) as info:
        OdooStore.from_env(env(fake, protocol), timeout_s=0.2)
    assert info.value.details["variable"] == "ODOO_URL" and "0.2 s" in info.value.message


def test_open_store_picks_odoo_from_cz_ledger(fake, protocol):
    settings = load_settings({"CZ_LEDGER": "odoo", **env(fake, protocol)})
    store = open_configured_store(settings)
    try:
        assert isinstance(store, OdooStore) and store.protocol == protocol
        assert store.accounts() == []
    finally:
        store.close()
    with pytest.raises(ConfigError):
        open_configured_store(load_settings({"CZ_LEDGER": "odoo", **env(fake, protocol, ODOO_DB="nope")}))


def env_of(url: str, protocol: str) -> dict[str, str]:
    return {
        "ODOO_URL": url,
        "ODOO_DB": "credits",
        "ODOO_USERNAME": "admin",
        "ODOO_API_KEY": KEY,
        "ODOO_PROTOCOL": protocol,
    }
