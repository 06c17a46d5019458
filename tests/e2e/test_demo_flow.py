"""A new visitor in a real browser: DEMO label, Ask AI until blocked, DEMO top-up, chip follows."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.servers import streamlit_server

from .helpers import chip, nav, shot, wait_idle

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(browser, artifacts_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """`streamlit run app.py` with no auth: every visitor is a DEMO visitor (after the browser check)."""
    env = {
        "CZ_UI_THINK_SECONDS": "0",
        "CZ_LEDGER_PATH": str(tmp_path_factory.mktemp("e2e-demo") / "ledger.sqlite3"),
    }
    with streamlit_server(env, log_dir=artifacts_dir / "e2e" / "logs") as srv:
        yield srv


def ask(page: Page, question: str) -> None:
    box = page.get_by_label("Your question")
    box.fill(question)
    box.press("Control+Enter")
    wait_idle(page)
    submit = page.locator(".st-key-cz_ask_submit button")
    expect(submit).to_have_count(1)  # a rerun may briefly show the old and the new button
    submit.click()
    wait_idle(page)


def test_demo_visitor_asks_until_blocked_then_tops_up(server, page: Page, shots: Path) -> None:
    page.goto(server.url)
    expect(page.locator("h1").first).to_contain_text("Account")
    assert page.url.rstrip("/").endswith("/account"), "the root forwards to /account"
    expect(page.get_by_text("DEMO mode")).to_be_visible()
    expect(chip(page)).to_contain_text("100 credits · DEMO")
    shot(page, shots, "01-demo-account")

    nav(page, "Ask AI")
    expect(page.get_by_text("This question costs")).to_contain_text("1 credit")
    ask(page, "What discount to NAV are 2019 buyout stakes trading at?")
    expect(page.get_by_text("Charged 1 credit. Balance 99.")).to_be_visible()
    expect(chip(page)).to_contain_text("99 credits · DEMO")
    shot(page, shots, "02-ask-ai-charged")

    page.get_by_role("button", name="Spend down").click()
    expect(chip(page)).to_contain_text("0 credits · DEMO")
    ask(page, "And one more question, please?")
    expect(page.get_by_text("Not enough credits")).to_be_visible()
    expect(chip(page)).to_contain_text("0 credits · DEMO")
    shot(page, shots, "03-ask-ai-blocked")

    page.get_by_role("link", name="Top up on the Account page").click()
    expect(page.locator("h1").first).to_contain_text("Account")
    wait_idle(page)
    page.locator(".st-key-cz_buy_pack_500 button").click()
    expect(page.get_by_text("DEMO purchase: +500 credits")).to_be_visible()
    expect(chip(page)).to_contain_text("500 credits · DEMO")
    shot(page, shots, "04-after-demo-purchase")

    nav(page, "Ask AI")
    ask(page, "Now that I topped up?")
    expect(chip(page)).to_contain_text("499 credits · DEMO")


def test_other_pages_look_finished(server, page: Page, shots: Path) -> None:
    page.goto(server.url)
    expect(chip(page)).to_contain_text("credits · DEMO")
    nav(page, "Pricing preview")
    expect(page.locator("[data-testid='stVegaLiteChart']").first).to_be_visible()
    shot(page, shots, "05-pricing-preview")
    nav(page, "Registry admin")
    expect(page.get_by_text("edits are saved to this DEMO session's own registry")).to_be_visible()
    shot(page, shots, "06-registry-admin")
