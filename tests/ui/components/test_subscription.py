"""Account in server mode: plans are Stripe subscriptions (AppTest, FakeStripe without webhooks)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.standins.stripe import FakeStripe

from ..helpers import assert_clean, messages, metric, server_service, signed_in


@pytest.fixture
def stripe(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripe]:
    monkeypatch.setenv("CZ_STARTER_PLAN", "none")
    monkeypatch.setenv("CZ_CLOCK", "2026-11-10T12:00:00Z")  # grants never depend on today's date
    with FakeStripe() as fake:
        monkeypatch.setenv("STRIPE_SECRET_KEY", fake.secret_key)
        monkeypatch.setenv("STRIPE_API_BASE", fake.url)
        monkeypatch.setenv("CZ_PUBLIC_APP_URL", "http://127.0.0.1:8501")
        yield fake


def plan_rows(user: str) -> list:
    return [r for r in server_service().ledger_tail(user, 500) if r.kind == "plan"]


def test_without_stripe_keys_plan_changes_are_made_by_an_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CZ_STARTER_PLAN", "none")
    at = signed_in(sub="user_no_stripe")
    assert_clean(at)
    assert "plan changes are made by an admin" in messages(at)
    assert not [b for b in at.button if b.label in ("Subscribe with Stripe", "Change subscription")]


def test_demo_plan_switching_is_labelled_demo(demo) -> None:
    assert any("DEMO: plans switch for free here" in c.value for c in demo.caption)


def test_subscribe_return_change_and_cancel(stripe: FakeStripe) -> None:
    user = "user_ui_subscriber"
    at = signed_in(sub=user)
    assert "You have no subscription" in messages(at)
    at.selectbox(key="cz_plan_choice_none").set_value("intelligence").run()
    at.button(key="cz_plan_subscribe").click().run()
    assert_clean(at)
    [link] = at.get("link_button")
    assert link.proto.label == "Continue to secure checkout — Intelligence plan"
    session_id = link.proto.url.rstrip("/").rsplit("/", 1)[-1]
    assert plan_rows(user) == []
    assert httpx.post(link.proto.url).status_code == 303  # Subscribe on the hosted page (no webhook here)
    for _ in range(2):  # the return, then the same URL again (a reload): one plan row
        at.query_params.update({"subscription": "success", "session_id": session_id})
        at.run()
        assert_clean(at)
        assert "Subscribed to **Intelligence**: **+400 credits** granted this month." in messages(at)
        assert metric(at, "Plan") == "Intelligence"
    assert len(plan_rows(user)) == 1
    at.selectbox(key="cz_plan_choice_intelligence").set_value("professional").run()
    at.button(key="cz_plan_subscribe").click().run()
    assert_clean(at)
    # No webhook in this test: the page re-reads the subscription while the change is pending.
    assert "Stripe confirmed: you are on **Professional** (+1,100 granted, −0 trimmed)." in messages(at)
    assert metric(at, "Plan") == "Professional"
    sub_id = plan_rows(user)[0].meta["subscription"]
    assert stripe.subscription(sub_id)["items"]["data"][0]["price"]["unit_amount"] == 39900
    at.button(key="cz_plan_cancel").click().run()
    assert_clean(at)
    assert "you keep your plan until then (then −1,500 included credits are trimmed)" in messages(at)
    assert stripe.subscription(sub_id)["cancel_at_period_end"] is True
    assert metric(at, "Plan") == "Professional"
    assert "Your subscription ends on" in messages(at)
