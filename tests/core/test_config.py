"""Configuration: defaults, and every bad value is a ConfigError naming the variable (never a secret)."""

from __future__ import annotations

import pytest

from credits_core import load_settings, open_service
from credits_core.errors import ConfigError


def test_defaults():
    s = load_settings({})
    assert (s.ledger, s.ledger_path, s.enforce, s.tenant) == ("sqlite", "data/ledger.sqlite3", False, "cityzeen")
    assert s.public_app_url == "http://localhost:8501" and s.account_url == "http://localhost:8501/account#credits"
    assert s.registry_admin_secret is None and s.stripe_secret_key is None and not s.payments_enabled
    assert s.admin_users == frozenset()


def test_good_values():
    s = load_settings(
        {
            "CZ_LEDGER": " SQLite ",
            "CZ_LEDGER_PATH": "/tmp/x.sqlite3",
            "CZ_CREDITS_ENFORCE": "1",
            "CZ_TENANT_ID": "acme-2",
            "CZ_PUBLIC_APP_URL": "https://app.example.com/",
            "CZ_REGISTRY_ADMIN_SECRET": "s3cret-admin-value",
            "CZ_ADMIN_USERS": "user_1, ops@example.com ,",
            "STRIPE_SECRET_KEY": "sk_test_abc",
            "STRIPE_WEBHOOK_SECRET": "whsec_abc",
            "STRIPE_API_BASE": "http://127.0.0.1:12111",
        }
    )
    assert (s.ledger, s.ledger_path, s.enforce, s.tenant) == ("sqlite", "/tmp/x.sqlite3", True, "acme-2")
    assert s.public_app_url == "https://app.example.com"
    assert s.admin_users == frozenset({"user_1", "ops@example.com"})
    assert s.payments_enabled and s.stripe_api_base == "http://127.0.0.1:12111"
    assert "s3cret" not in repr(s) and "sk_test_abc" not in repr(s) and "whsec_abc" not in repr(s)


@pytest.mark.parametrize("value", ["0", "false", "no", "off", "", "  "])
def test_enforce_off_values(value):
    assert load_settings({"CZ_CREDITS_ENFORCE": value}).enforce is False


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_enforce_on_values(value):
    assert load_settings({"CZ_CREDITS_ENFORCE": value}).enforce is True


SECRET = "super-secret-value-123"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CZ_LEDGER", "postgres"),
        ("CZ_CREDITS_ENFORCE", "2"),
        ("CZ_CREDITS_ENFORCE", "enforce"),
        ("CZ_TENANT_ID", "Acme Corp"),
        ("CZ_TENANT_ID", "t" * 65),
        ("CZ_PUBLIC_APP_URL", "app.example.com"),
        ("CZ_PUBLIC_APP_URL", "ftp://app.example.com"),
        ("STRIPE_API_BASE", "localhost:12111"),
        ("CZ_REGISTRY_ADMIN_SECRET", "x7Qz"),
        ("STRIPE_SECRET_KEY", SECRET),
        ("STRIPE_SECRET_KEY", "pk_live_" + SECRET),
        ("STRIPE_WEBHOOK_SECRET", SECRET),
    ],
)
def test_each_bad_variable_is_named_and_secrets_are_not_echoed(name, value):
    with pytest.raises(ConfigError) as info:
        load_settings({name: value})
    err = info.value
    assert (err.code, err.http_status) == ("config_error", 500)
    assert err.details["variable"] == name and name in err.message
    if "SECRET" in name or "KEY" in name:
        assert value not in str(err.to_dict()) and SECRET not in str(err.to_dict())


def test_an_unusable_ledger_path_is_a_start_up_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError) as info:
        open_service(load_settings({"CZ_LEDGER_PATH": str(blocker / "ledger.sqlite3")}))
    assert info.value.details["variable"] == "CZ_LEDGER_PATH"


def test_memory_ledger_needs_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    service = open_service(load_settings({"CZ_LEDGER": "memory", "CZ_STARTER_PLAN": "base"}))
    assert service.debit("u", "ask_ai", "k").balance.total == 99
    assert list(tmp_path.iterdir()) == []


def test_server_users_start_without_a_plan_unless_a_starter_plan_is_configured(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    service = open_service(load_settings({"CZ_LEDGER": "memory"}))
    state = service.state("u")
    assert (state.plan, state.balance.total, state.monthly_included, state.soft_cap) == ("none", 0, 0, 0)
    with pytest.raises(ConfigError) as info:
        open_service(load_settings({"CZ_LEDGER": "memory", "CZ_STARTER_PLAN": "gold"}))
    assert info.value.details["variable"] == "CZ_STARTER_PLAN"


def test_odoo_variables_are_read_with_the_others_and_the_key_stays_out_of_repr() -> None:
    env = {
        "CZ_LEDGER": "odoo",
        "ODOO_URL": "https://odoo.example.test",
        "ODOO_DB": "prod",
        "ODOO_USERNAME": "ledger@example.test",
        "ODOO_API_KEY": "key-that-must-not-show",
        "ODOO_PROTOCOL": "JSON2",
    }
    settings = load_settings(env)
    assert settings.odoo is not None
    assert (settings.odoo.url, settings.odoo.db, settings.odoo.protocol) == (
        "https://odoo.example.test",
        "prod",
        "json2",
    )
    assert "key-that-must-not-show" not in repr(settings)
    assert load_settings(env | {"CZ_LEDGER": "sqlite"}).odoo is None


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"ODOO_DB": ""}, "ODOO_DB"),
        ({"ODOO_URL": "odoo.example.test"}, "ODOO_URL"),
        ({"ODOO_PROTOCOL": "xmlrpc"}, "ODOO_PROTOCOL"),
    ],
)
def test_a_bad_odoo_variable_is_a_start_up_error_naming_it(change: dict[str, str], variable: str) -> None:
    env = {
        "CZ_LEDGER": "odoo",
        "ODOO_URL": "https://o.example.test",
        "ODOO_DB": "d",
        "ODOO_USERNAME": "u",
        "ODOO_API_KEY": "k",
    }
    with pytest.raises(ConfigError) as info:
        load_settings(env | change)
    assert info.value.details["variable"] == variable and variable in info.value.message


def test_ui_pacing_and_bench_routes_are_settings_too() -> None:
    s = load_settings({"CZ_UI_THINK_SECONDS": "0", "CZ_BENCH_ROUTES": "1"})
    assert (s.ui_think_seconds, s.bench_routes) == (0.0, True)
    assert (load_settings({}).ui_think_seconds, load_settings({}).bench_routes) == (0.6, False)
    for bad in ("-1", "11", "soon"):
        with pytest.raises(ConfigError) as info:
            load_settings({"CZ_UI_THINK_SECONDS": bad})
        assert info.value.details["variable"] == "CZ_UI_THINK_SECONDS"
