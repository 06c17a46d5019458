"""Admin gating of Ops ledger and Registry admin, and what each shows."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from credits_core.seed import seed_demo

from ..helpers import (
    assert_clean,
    chip,
    click,
    demo_service,
    demo_user,
    messages,
    metric,
    new_app,
    open_page,
    server_service,
    signed_in,
)

SECRET = "ops-secret-for-tests"


def charts(at: AppTest) -> int:
    return len(at.get("vega_lite_chart"))


def unlock(at: AppTest, secret: str) -> AppTest:
    at.text_input(key="cz_ops_unlock_secret").input(secret)
    at.button(key="FormSubmitter:cz_ops_unlock_form-Unlock").click().run()
    assert_clean(at)
    return at


# -- Ops ledger ---------------------------------------------------------------------


def test_demo_ops_shows_the_demo_ledger_labelled(demo: AppTest) -> None:
    demo.button(key="cz_buy_pack_100").click().run()
    demo_service(demo).debit(demo_user(demo), "comps_report", "ops-test-1")
    open_page(demo, "pages/ops_ledger.py")
    assert "this DEMO session's own ledger" in messages(demo)
    assert any("This DEMO session" in c.value and "DEMO" in c.value for c in demo.caption)
    assert metric(demo, "Ledger rows") == "3"
    assert metric(demo, "Credits topped up") == "100"
    assert metric(demo, "Credits debited") == "3"
    assert charts(demo) == 3, "daily movements, top tools and balance distribution"
    rows = next(d.value for d in demo.dataframe if "name" in d.value.columns)
    assert set(rows["kind"]) == {"grant", "topup", "debit"}
    assert {b.label for b in demo.download_button} == {"Export rows (CSV)", "Export daily totals (CSV)"}


def test_server_ops_is_admin_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CZ_REGISTRY_ADMIN_SECRET", SECRET)
    at = signed_in(sub="user_plain")
    open_page(at, "pages/ops_ledger.py")
    assert "Admins only" in messages(at)
    assert charts(at) == 0 and not at.dataframe
    unlock(at, "not-the-secret")
    assert "That secret is not right" in messages(at)
    assert charts(at) == 0
    unlock(at, SECRET)
    assert "Admins only" not in messages(at)
    assert charts(at) >= 2


def test_server_ops_for_listed_admin_with_filters_and_export(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CZ_ADMIN_USERS", "user_admin")
    at = signed_in(sub="user_admin")
    service = server_service()
    seed_demo(service, users=6, months=2, scale=0.2)
    at.run()
    open_page(at, "pages/ops_ledger.py")
    assert charts(at) == 3
    all_rows = int(metric(at, "Ledger rows").replace(",", ""))
    assert all_rows > 50
    at.selectbox(key="cz_ops_user").set_value("user_0001").run()
    assert_clean(at)
    assert any(s.value == "Ledger of user_0001" for s in at.subheader)
    rows = next(d.value for d in at.dataframe if "name" in d.value.columns)
    assert set(rows["userId"]) == {"user_0001"}
    at.multiselect(key="cz_ops_kinds").set_value(["grant"]).run()
    rows = next(d.value for d in at.dataframe if "name" in d.value.columns)
    assert set(rows["kind"]) == {"grant"}
    export = next(b for b in at.download_button if b.label == "Export rows (CSV)")
    assert export.proto.help.startswith(f"{len(rows)} row(s)")


def test_demo_visitor_with_secret_sees_the_server_ledger(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CZ_REGISTRY_ADMIN_SECRET", SECRET)
    demo = new_app().run()
    # Two months: the current month may be minutes old (the 1st at 00:00:30), the previous one is whole.
    seed_demo(server_service(), users=3, months=2, scale=0.1)
    open_page(demo, "pages/ops_ledger.py")
    assert metric(demo, "Ledger rows") == "1"  # only the DEMO visitor's own grant
    unlock(demo, SECRET)
    assert int(metric(demo, "Ledger rows").replace(",", "")) > 3
    assert any("Server ledger" in c.value for c in demo.caption)
    assert chip(demo).endswith("· DEMO"), "the visitor is still a DEMO visitor"


# -- Registry admin -------------------------------------------------------------------


def registry_text(at: AppTest) -> str:
    return next(t for t in at.text_area if t.key and t.key.startswith("cz_reg_text_")).value


def set_registry_text(at: AppTest, text: str) -> None:
    next(t for t in at.text_area if t.key and t.key.startswith("cz_reg_text_")).input(text)


def test_registry_validate_lists_every_problem(demo: AppTest) -> None:
    open_page(demo, "pages/registry_admin.py")
    doc = json.loads(registry_text(demo))
    doc["tools"][0]["credits"] = -3
    doc["tools"].append(dict(doc["tools"][1]))  # duplicate id
    doc["plans"] = [p for p in doc["plans"] if p["id"] != "professional"]
    doc["surprise"] = True
    set_registry_text(demo, json.dumps(doc))
    click(demo, "Validate")
    text = messages(demo)
    assert "registry was rejected" in text
    for problem in (
        "tools[0].credits",
        "duplicate id 'ask_ai_deep'",
        "plan 'professional' is missing",
        "surprise: unknown key",
    ):
        assert problem in text, problem
    set_registry_text(demo, "{not json")
    click(demo, "Validate")
    assert "Not valid JSON" in messages(demo)


def test_demo_registry_save_stays_in_the_session(demo: AppTest) -> None:
    open_page(demo, "pages/registry_admin.py")
    doc = json.loads(registry_text(demo))
    doc["tools"][0]["credits"] = 2
    set_registry_text(demo, json.dumps(doc))
    click(demo, "Save new version")
    assert "Saved **version 2** to this DEMO session's registry" in messages(demo)
    assert demo_service(demo).registry.tool("ask_ai").credits == 2
    assert server_service().registry.version == 1, "the server registry is untouched"
    open_page(demo, "pages/ask_ai.py")
    assert demo.button(key="cz_ask_submit").label == "Ask · 2 credits"


def test_server_registry_save_needs_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CZ_REGISTRY_ADMIN_SECRET", SECRET)
    at = signed_in()
    open_page(at, "pages/registry_admin.py")
    assert next(b for b in at.button if b.label == "Save new version").disabled
    assert "needs the admin secret" in messages(at)
    at.text_input(key="cz_reg_unlock_secret").input(SECRET)
    at.button(key="FormSubmitter:cz_reg_unlock_form-Unlock").click().run()
    assert_clean(at)
    doc = json.loads(registry_text(at))
    doc["packs"][0]["price"] = 1900
    set_registry_text(at, json.dumps(doc))
    click(at, "Save new version")
    assert "Saved **version 2** to the server registry" in messages(at)
    assert server_service().registry.pack("pack_100").price == 1900
    versions = next(d.value for d in at.dataframe if "Version" in d.value.columns)
    assert list(versions["Version"]) == [2, 1]
    at.selectbox(key="cz_reg_version").set_value(1).run()
    assert any("Version 1" in m.value for m in at.markdown)
