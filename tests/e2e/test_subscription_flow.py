"""A signed-in user buys a plan as a Stripe subscription, upgrades and downgrades, in a real browser.

Sign in (local OIDC provider) with no plan → Account → pick Intelligence →
the dry-run → Subscribe with Stripe → the stand-in's hosted page → Subscribe →
back on ``/account?subscription=success&session_id=…``: the plan and its grant,
once (the page's confirm and FakeStripe's signed webhooks race on one row
name). Then Professional (Stripe's subscription is updated and prorated; the
plan follows Stripe's event) and Base (the dry-run shows the trim, the ledger
writes it once).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.servers import StreamlitServer, streamlit_server
from tests.standins.oidc_server import OidcStandIn, OidcUser
from tests.standins.stripe import FakeStripe

from .helpers import chip, shot, sign_in, wait_idle
from .test_stripe_checkout_flow import ledger_rows

pytestmark = pytest.mark.e2e

INTELLIGENCE, PROFESSIONAL, BASE_CAP = 400, 1500, 300  # default registry: grants and Base's soft cap


@dataclass
class SubsStack:
    server: StreamlitServer
    idp: OidcStandIn
    stripe: FakeStripe
    ledger: Path


@pytest.fixture(scope="module")
def subs_stack(browser, artifacts_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SubsStack]:
    """Like ``signed_in_stack`` but users start with no plan (server mode's default) and the ledger clock is fixed."""
    tmp = tmp_path_factory.mktemp("e2e-subscriptions")
    ledger = tmp / "ledger.sqlite3"
    with OidcStandIn(lifetime_s=900) as idp, FakeStripe(lifetime_s=900) as stripe:
        secrets_file = tmp / "secrets.toml"
        secrets_file.write_text(idp.secrets_toml("http://127.0.0.1:{port}/oauth2callback", secrets.token_hex(24)))
        env = {
            "CZ_UI_THINK_SECONDS": "0",
            "CZ_LEDGER_PATH": str(ledger),
            "CZ_CLOCK": "2026-11-10T12:00:00Z",
            "STRIPE_SECRET_KEY": stripe.secret_key,
            "STRIPE_WEBHOOK_SECRET": stripe.webhook_secret,
            "STRIPE_API_BASE": stripe.url,
            "STREAMLIT_SECRETS_FILES": str(secrets_file),
        }
        with streamlit_server(env, log_dir=artifacts_dir / "e2e" / "logs") as srv:
            stripe.set_webhook_url(srv.url + "/api/stripe-webhook")
            yield SubsStack(srv, idp, stripe, ledger)


def expect_chip(page: Page, credits: int) -> None:
    expect(chip(page)).to_contain_text(re.compile(rf"(^|\D){credits:,} credits?"))


def expect_plan(page: Page, label: str) -> None:
    expect(page.locator("[data-testid='stMetric']", has_text="Plan")).to_contain_text(label)


def choose_plan(page: Page, current: str, label: str) -> None:
    """Pick ``label`` in the plan selector (keyed ``cz_plan_choice_<current plan>``)."""
    page.locator(f".st-key-cz_plan_choice_{current}").get_by_role("button", name="Open").click()  # react-aria combobox
    page.get_by_role("option", name=re.compile(rf"^{label} ")).click()
    wait_idle(page)


def expect_preview(page: Page, title: str, *texts: str) -> None:
    """The dry-run box shows ``title`` (e.g. "No plan → Intelligence") and each of ``texts`` (retried)."""
    box = page.locator(".st-key-cz_plan_preview")
    expect(box).to_contain_text(title)
    for text in texts:
        expect(box).to_contain_text(text)


def kinds(ledger: Path, user: str, kind: str) -> list[tuple[int, dict]]:
    return [(delta, meta) for _name, k, delta, meta in ledger_rows(ledger, user) if k == kind]


def test_subscribe_upgrade_and_downgrade(subs_stack: SubsStack, page: Page, shots: Path) -> None:
    stack = subs_stack
    user = OidcUser(sub="user_e2e_subscriber", email="subscriber@example.com", name="Sam Subscriber")
    stack.idp.set_user(user)

    sign_in(page, stack.server.url)
    expect(page.get_by_text("You have no subscription")).to_be_visible()
    expect_chip(page, 0)
    choose_plan(page, "none", "Intelligence")
    expect_preview(page, "No plan → Intelligence", "+400")
    shot(page, shots, "20-subscription-preview")

    page.get_by_role("button", name="Subscribe with Stripe").click()
    link = page.get_by_role("link", name="Continue to secure checkout — Intelligence plan")
    expect(link).to_be_visible()
    with page.context.expect_page() as new_tab:
        link.click()
    checkout = new_tab.value
    checkout.wait_for_load_state()
    expect(checkout.get_by_test_id("line-item")).to_contain_text("Intelligence plan")
    expect(checkout.get_by_test_id("line-item")).to_contain_text("149.00 USD / month")
    checkout.screenshot(path=str(shots / "21-stripe-subscription-checkout.png"), full_page=True)
    checkout.get_by_test_id("pay").click()  # subscription + invoice + signed events, 303 → success_url

    checkout.wait_for_url(re.compile(r"/account(\?|$)"))
    expect(checkout.get_by_text("Subscribed to Intelligence: +400 credits granted this month.")).to_be_visible()
    expect_plan(checkout, "Intelligence")
    expect_chip(checkout, INTELLIGENCE)
    assert "subscription=" not in checkout.url, "the query string is consumed: a reload confirms nothing again"
    shot(checkout, shots, "22-subscribed-intelligence")
    stack.stripe.wait_for_deliveries(3, timeout=20, ok=True)
    assert [m["plan"] for _, m in kinds(stack.ledger, user.sub, "plan")] == ["intelligence"]
    assert [d for d, _ in kinds(stack.ledger, user.sub, "upgrade")] == [INTELLIGENCE]

    choose_plan(checkout, "intelligence", "Professional")
    expect_preview(checkout, "Intelligence → Professional", "+1,100")
    checkout.get_by_role("button", name="Change subscription").click()
    # Stripe's customer.subscription.updated (or the page's re-read of the subscription) moves the plan.
    expect(
        checkout.get_by_text("Stripe confirmed: you are on Professional (+1,100 granted, −0 trimmed).")
    ).to_be_visible()
    expect_plan(checkout, "Professional")
    expect_chip(checkout, PROFESSIONAL)
    shot(checkout, shots, "23-upgraded-professional")

    choose_plan(checkout, "professional", "Base")
    expect_preview(checkout, "Professional → Base", f"−{PROFESSIONAL - BASE_CAP:,}")
    checkout.get_by_role("button", name="Change subscription").click()
    trim = PROFESSIONAL - BASE_CAP
    expect(checkout.get_by_text(f"Stripe confirmed: you are on Base (+0 granted, −{trim:,} trimmed).")).to_be_visible()
    expect_plan(checkout, "Base")
    expect_chip(checkout, BASE_CAP)
    checkout.get_by_text("Recent activity").click()
    shot(checkout, shots, "24-downgraded-base-trim")

    plans = [m["plan"] for _, m in kinds(stack.ledger, user.sub, "plan")]
    assert plans == ["intelligence", "professional", "base"]
    assert [d for d, _ in kinds(stack.ledger, user.sub, "upgrade")] == [INTELLIGENCE, PROFESSIONAL - INTELLIGENCE]
    assert [d for d, _ in kinds(stack.ledger, user.sub, "trim")] == [-(PROFESSIONAL - BASE_CAP)]
    assert sum(d for _n, _k, d, _m in ledger_rows(stack.ledger, user.sub)) == BASE_CAP
    assert [s["status"] for s in stack.stripe.subscriptions()] == ["active"]
