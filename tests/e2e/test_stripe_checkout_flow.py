"""A signed-in user buys a top-up pack through (stand-in) Stripe Checkout, in a real browser.

The whole round trip of SPEC §4.7 / §7 with nothing mocked inside the app:
sign in with ``st.login`` (local OIDC provider) → Account → Buy with Stripe →
the hosted checkout page (FakeStripe) → Pay → Stripe's 303 back to
``/account?checkout=success&session_id=…`` → the page confirms the session
while FakeStripe's signed webhook hits ``/api/stripe-webhook`` → the pack is
credited exactly once. Cancelling on the checkout page credits nothing.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.standins.oidc_server import OidcUser

from .conftest import SignedInStack
from .helpers import chip, shot, sign_in, wait_idle

pytestmark = pytest.mark.e2e

MONTHLY_GRANT = 100  # Base plan's monthlyIncluded in the default registry


def ledger_rows(ledger: Path, user_id: str) -> list[tuple[str, str, int, dict]]:
    """(name, kind, delta, meta) of a user's rows, oldest first."""
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT name, kind, delta, meta FROM ledger WHERE user_id=? ORDER BY id", (user_id,))
        return [(n, k, d, json.loads(m)) for n, k, d, m in rows.fetchall()]


def expect_chip(page: Page, credits: int, timeout: float | None = None) -> None:
    """The header chip shows the server balance ``credits`` (and no DEMO label)."""
    expect(chip(page)).to_contain_text(re.compile(rf"(^|\D){credits:,} credits"), timeout=timeout)
    expect(chip(page)).not_to_contain_text("DEMO")


def open_checkout(page: Page, pack_id: str, pack_label: str) -> Page:
    """Buy with Stripe → the "Continue to secure checkout" link → the hosted page (a new tab)."""
    page.locator(f".st-key-cz_buy_{pack_id} button").click()
    wait_idle(page)
    link = page.get_by_role("link", name=f"Continue to secure checkout — {pack_label}")
    expect(link).to_be_visible()
    with page.context.expect_page() as new_tab:
        link.click()
    checkout = new_tab.value
    checkout.wait_for_load_state()
    expect(checkout.get_by_role("heading", name="Test mode checkout")).to_be_visible()
    return checkout


def session_id_of(checkout: Page) -> str:
    match = re.search(r"/pay/([^/?#]+)", checkout.url)
    assert match, checkout.url
    return match.group(1)


def test_signed_in_user_buys_a_pack_with_stripe(signed_in_stack: SignedInStack, page: Page, shots: Path) -> None:
    stack = signed_in_stack
    user = OidcUser(sub="user_e2e_buyer", email="buyer@example.com", name="Bea Buyer")
    stack.idp.set_user(user)

    sign_in(page, stack.server.url)
    expect(page.get_by_text("DEMO mode")).to_have_count(0)
    expect(page.get_by_text("Signed in as Bea Buyer")).to_be_visible()
    expect_chip(page, MONTHLY_GRANT)  # the server balance, no DEMO
    expect(page.get_by_text("Secure payment with Stripe Checkout")).to_be_visible()
    shot(page, shots, "10-signed-in-account")
    assert [(r[1], r[2]) for r in ledger_rows(stack.ledger, user.sub)] == [("grant", MONTHLY_GRANT)]

    checkout = open_checkout(page, "pack_500", "500 credits")
    session_id = session_id_of(checkout)
    expect(checkout.get_by_test_id("line-item")).to_contain_text("500 credits")
    expect(checkout.get_by_test_id("total")).to_have_text("60.00 USD")
    expect(checkout.locator("input[name=email]")).to_have_value(user.email)
    checkout.screenshot(path=str(shots / "11-stripe-checkout.png"), full_page=True)

    checkout.get_by_test_id("pay").click()  # completes, sends the webhook, 303 → success_url
    checkout.wait_for_url(re.compile(r"/account(\?|$)"))
    expect(checkout.get_by_text("Payment received: +500 credits.")).to_be_visible()
    expect(checkout.get_by_text(f"New balance {MONTHLY_GRANT + 500}")).to_be_visible()
    expect(checkout.get_by_text("already credited")).to_have_count(0)  # whoever won the race, it is news here
    expect_chip(checkout, MONTHLY_GRANT + 500)
    assert "checkout=" not in checkout.url, "the query string is consumed, so a reload does not confirm again"
    expect(checkout.locator("[data-testid='stMetric']", has_text="Purchased")).to_contain_text("500")
    shot(checkout, shots, "12-after-payment")

    # The webhook was delivered and accepted too; the row name makes the top-up happen once.
    deliveries = stack.stripe.wait_for_deliveries(1, timeout=10, ok=True)
    assert [d["type"] for d in deliveries if 200 <= d["status"] < 300][-1] == "checkout.session.completed"
    rows = ledger_rows(stack.ledger, user.sub)
    topups = [r for r in rows if r[1] == "topup"]
    assert len(topups) == 1, rows
    name, _, delta, meta = topups[0]
    assert name == f"CZ_SMCR|topup|{session_id}"
    assert delta == 500
    assert meta.get("via") in ("webhook", "ui-confirm")
    assert sum(r[2] for r in rows) == MONTHLY_GRANT + 500

    # Opening the success URL again (back/forward, a bookmark) credits nothing new.
    checkout.goto(f"{stack.server.url}/account?checkout=success&session_id={session_id}")
    again = "Payment received: +500 credits." if meta["via"] == "webhook" else "This payment was already credited"
    expect(checkout.get_by_text(again)).to_be_visible()
    expect_chip(checkout, MONTHLY_GRANT + 500)
    assert len([r for r in ledger_rows(stack.ledger, user.sub) if r[1] == "topup"]) == 1

    # The first tab's chip refreshes by itself (st.fragment run_every) to the new balance.
    expect_chip(page, MONTHLY_GRANT + 500, timeout=15_000)


def test_cancel_on_the_checkout_page_credits_nothing(signed_in_stack: SignedInStack, page: Page, shots: Path) -> None:
    stack = signed_in_stack
    user = OidcUser(sub="user_e2e_canceller", email="canceller@example.com", name="Cal Canceller")
    stack.idp.set_user(user)

    sign_in(page, stack.server.url)
    expect_chip(page, MONTHLY_GRANT)
    checkout = open_checkout(page, "pack_100", "100 credits")
    session_id = session_id_of(checkout)
    checkout.get_by_test_id("cancel").click()
    checkout.wait_for_url(re.compile(r"/account(\?|$)"))
    expect(checkout.get_by_text("Checkout cancelled — you were not charged.")).to_be_visible()
    expect_chip(checkout, MONTHLY_GRANT)
    shot(checkout, shots, "13-checkout-cancelled")

    assert stack.stripe.session(session_id)["status"] == "open"
    assert [(r[1], r[2]) for r in ledger_rows(stack.ledger, user.sub)] == [("grant", MONTHLY_GRANT)]
