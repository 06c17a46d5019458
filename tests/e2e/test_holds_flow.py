"""Deep research in a real browser: the estimate is reserved, the actual cost charged, the rest released."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.servers import streamlit_server

from .helpers import chip, nav, shot, wait_idle

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(browser, artifacts_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    env = {
        "CZ_UI_THINK_SECONDS": "0",
        "CZ_LEDGER_PATH": str(tmp_path_factory.mktemp("e2e-holds") / "ledger.sqlite3"),
    }
    with streamlit_server(env, log_dir=artifacts_dir / "e2e" / "logs") as srv:
        yield srv


def ask(page: Page, question: str) -> None:
    """Type ``question`` (checked: a rerun may swap the text box), then submit it."""
    for attempt in range(4):
        box = page.get_by_label("Your question")
        expect(box).to_have_count(1)
        box.fill(question)
        box.press("Control+Enter")
        wait_idle(page)
        try:
            expect(page.get_by_label("Your question")).to_have_value(question, timeout=5_000)
            break
        except AssertionError:
            if attempt == 3:
                raise
    submit = page.locator(".st-key-cz_ask_submit button")
    expect(submit).to_have_count(1)
    submit.click()
    wait_idle(page)


def test_deep_research_reserves_charges_and_releases(server, page: Page, shots: Path) -> None:
    page.goto(server.url)
    expect(chip(page)).to_contain_text("100 credits · DEMO")
    page.get_by_test_id("stSidebarUserContent").get_by_role("combobox", name="Plan").click()  # DEMO sidebar: switch to Intelligence (400 a month)
    page.get_by_role("option", name="Intelligence · 400/mo").click()
    wait_idle(page)
    expect(chip(page)).to_contain_text("400 credits · DEMO")

    nav(page, "Ask AI")
    page.locator(".st-key-cz_ask_tool").get_by_text("Deep research").click()
    wait_idle(page)
    expect(page.get_by_text("This question reserves")).to_contain_text("8 credits")
    ask(page, "Deep research: 2019 buyout secondaries, discount to NAV?")
    expect(page.get_by_text("reserved 8 · charged 5 · released 3").first).to_be_visible()
    expect(chip(page)).to_contain_text("395 credits · DEMO")
    shot(page, shots, "holds-01-deep-research-settled")

    page.locator(".st-key-cz_ask_new button").click()  # a new question: a new hold key
    wait_idle(page)
    failure = page.get_by_role("switch", name="Simulate an AI failure")
    expect(failure).to_have_count(1)  # a rerun may briefly show the old and the new widgets
    page.get_by_text("Simulate an AI failure").click()
    wait_idle(page)
    expect(failure).to_have_count(1)
    expect(failure).to_be_checked()
    expect(page.get_by_label("Your question")).to_have_count(1)
    ask(page, "Deep research that fails?")
    expect(page.get_by_text("not charged again")).to_have_count(0)
    expect(page.get_by_text("reserved 8 · charged 0 · released 8").first).to_be_visible()
    expect(chip(page)).to_contain_text("395 credits · DEMO")
    shot(page, shots, "holds-02-deep-research-released")
