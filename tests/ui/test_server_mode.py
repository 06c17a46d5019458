"""Server mode: a signed-in user on the shared service over a temporary SQLite ledger."""

from __future__ import annotations

import sqlite3

import pytest

from credits_core.errors import LedgerUnavailable
from tests.standins.stripe import FakeStripe

from .helpers import assert_clean, chip, ledger_path, messages, metric, open_page, server_service, signed_in


def ledger_rows(user: str) -> list[tuple[str, int]]:
    with sqlite3.connect(ledger_path()) as db:
        return db.execute("SELECT kind, delta FROM ledger WHERE user_id=? ORDER BY id", (user,)).fetchall()


def test_signed_in_user_gets_the_server_ledger() -> None:
    at = signed_in(sub="user_abc")
    assert_clean(at)
    assert chip(at) == "100 credits"
    assert "Ada Analyst" in " ".join(m.value for m in at.sidebar.markdown)
    assert ledger_rows("user_abc") == [("grant", 100)], "the monthly grant is in the SQLite ledger"
    open_page(at, "pages/ask_ai.py")
    at.text_area(key="cz_ask_question").input("Server-side question?")
    at.button(key="cz_ask_submit").click().run()
    assert_clean(at)
    assert chip(at) == "99 credits"
    assert ledger_rows("user_abc")[-1] == ("debit", -1)


def test_a_second_tab_and_the_api_see_the_same_balance() -> None:
    tab1 = signed_in(sub="user_tabs")
    tab2 = signed_in(sub="user_tabs")
    open_page(tab1, "pages/ask_ai.py")
    tab1.text_area(key="cz_ask_question").input("From tab one")
    tab1.button(key="cz_ask_submit").click().run()
    server_service().debit("user_tabs", "comps_report", "api-call-1")  # what POST /api/credits-debit does
    tab2.run()  # in the browser the chip fragment reruns by itself every 5 s
    assert chip(tab2) == "96 credits"


def test_user_id_falls_back_to_email() -> None:
    at = signed_in(sub="", email="no-sub@example.com")
    assert_clean(at)
    assert ledger_rows("no-sub@example.com") == [("grant", 100)]


def test_payments_not_configured_without_stripe_keys() -> None:
    at = signed_in()
    assert "Payments are not configured" in messages(at)
    assert all(b.disabled for b in at.button if b.label == "Buy with Stripe")


def test_stripe_checkout_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeStripe() as stripe:
        monkeypatch.setenv("STRIPE_SECRET_KEY", stripe.secret_key)
        monkeypatch.setenv("STRIPE_API_BASE", stripe.url)
        monkeypatch.setenv("CZ_PUBLIC_APP_URL", "http://127.0.0.1:8501")
        at = signed_in(sub="user_pay")
        at.button(key="cz_buy_pack_500").click().run()
        assert_clean(at)
        [link] = at.get("link_button")
        assert link.proto.url.startswith(stripe.url)
        session_id = link.proto.url.rstrip("/").rsplit("/", 1)[-1]
        assert stripe.session(session_id)["metadata"]["user_id"] == "user_pay"
        stripe.mark_paid(session_id)
        # Stripe redirects the browser back to /account?checkout=success&session_id=...
        at.query_params.update({"checkout": "success", "session_id": session_id})
        at.run()
        assert_clean(at)
        assert "Payment received: **+500 credits**. New balance **600**" in messages(at)
        assert chip(at) == "600 credits"
        assert "session_id" not in at.query_params
        # the same return again (a reload, a second tab) credits nothing more
        at.query_params.update({"checkout": "success", "session_id": session_id})
        at.run()
        assert chip(at) == "600 credits"
        assert [k for k, _ in ledger_rows("user_pay")].count("topup") == 1


def test_bad_configuration_is_a_friendly_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CZ_CREDITS_ENFORCE", "maybe")
    at = signed_in()
    assert_clean(at)
    assert "Server configuration problem: CZ_CREDITS_ENFORCE must be 1 or 0" in messages(at)


def test_ledger_unavailable_is_a_friendly_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    at = signed_in()
    service = server_service()

    def down(*_a, **_k):
        raise LedgerUnavailable("the ledger database failed; nothing was written")

    monkeypatch.setattr(service, "state", down)
    at.run()
    assert_clean(at)
    assert "ledger is unavailable right now" in messages(at)
    assert any("ledger unavailable" in m.value for m in at.markdown), "the chip says so too"


def test_admins_listed_by_email_see_ops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CZ_ADMIN_USERS", "boss@example.com")
    at = signed_in(sub="user_boss", email="boss@example.com")
    open_page(at, "pages/ops_ledger.py")
    assert "Admins only" not in messages(at)
    assert metric(at, "Ledger rows") == "1"


def test_stripe_unreachable_is_a_friendly_message_and_credits_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    stripe = FakeStripe().start()
    monkeypatch.setenv("STRIPE_SECRET_KEY", stripe.secret_key)
    monkeypatch.setenv("STRIPE_API_BASE", stripe.url)
    at = signed_in(sub="user_stripe_down")
    stripe.stop()  # Stripe goes away before the buyer clicks
    at.button(key="cz_buy_pack_500").click().run()
    assert_clean(at)
    text = messages(at)
    assert "Could not reach the payment provider" in text and "sk_test" not in text
    assert not at.get("link_button"), "no checkout link without a session"
    assert [k for k, _ in ledger_rows("user_stripe_down")] == ["grant"]
