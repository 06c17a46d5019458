"""Sign in with ``st.login`` (local OIDC provider) → server mode on the SQLite ledger → sign out → DEMO."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.standins.oidc_server import OidcUser

from .conftest import SignedInStack
from .helpers import chip, nav, shot, sign_in, wait_idle

pytestmark = pytest.mark.e2e


def kinds_and_deltas(ledger: Path, user_id: str) -> list[tuple[str, int, dict]]:
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT kind, delta, meta FROM ledger WHERE user_id=? ORDER BY id", (user_id,)).fetchall()
    return [(k, d, json.loads(m)) for k, d, m in rows]


def test_sign_in_uses_the_server_ledger_then_sign_out_returns_to_demo(
    signed_in_stack: SignedInStack, page: Page, shots: Path
) -> None:
    stack = signed_in_stack
    user = OidcUser(sub="user_e2e_reader", email="reader@example.com", name="Rita Reader")
    stack.idp.set_user(user)

    page.goto(stack.server.url)
    expect(page.get_by_text("DEMO mode")).to_be_visible()
    expect(chip(page)).to_contain_text("· DEMO")
    sign_in(page, stack.server.url)
    assert page.url.rstrip("/").endswith("/account")
    expect(page.get_by_text("Signed in as Rita Reader")).to_be_visible()
    expect(page.get_by_text("DEMO mode")).to_have_count(0)
    expect(chip(page)).to_contain_text(re.compile(r"(^|\D)100 credits"))
    expect(chip(page)).not_to_contain_text("DEMO")
    assert [(k, d) for k, d, _ in kinds_and_deltas(stack.ledger, user.sub)] == [("grant", 100)], "user id = sub"
    paths = [r["path"] for r in stack.idp.requests()]
    assert "/authorize" in paths and "/token" in paths

    nav(page, "Ask AI")
    expect(page.get_by_text("This question costs")).to_contain_text("1 credit")
    box = page.get_by_label("Your question")
    box.fill("Which 2018 vintage funds trade closest to NAV?")
    box.press("Control+Enter")
    wait_idle(page)
    submit = page.locator(".st-key-cz_ask_submit button")
    expect(submit).to_have_count(1)  # not while a rerun still shows the old copy
    submit.click()
    expect(page.get_by_text("Charged 1 credit. Balance 99.")).to_be_visible()
    expect(chip(page)).to_contain_text(re.compile(r"(^|\D)99 credits"))
    shot(page, shots, "14-signed-in-ask-ai")
    rows = kinds_and_deltas(stack.ledger, user.sub)
    assert [(k, d) for k, d, _ in rows] == [("grant", 100), ("debit", -1)]

    page.locator("[data-testid='stSidebar']").get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("DEMO mode")).to_be_visible(timeout=30_000)
    expect(chip(page)).to_contain_text("100 credits · DEMO")
    expect(page.locator("[data-testid='stSidebar']").get_by_role("button", name="Sign in")).to_be_visible()
    assert "/logout" in [r["path"] for r in stack.idp.requests()], "the provider's end_session_endpoint was used"
    shot(page, shots, "15-signed-out-demo")
    assert len(kinds_and_deltas(stack.ledger, user.sub)) == 2, "signing out writes nothing"
