"""Scenarios, scenario links and replay in real Chromium (DEMO visitors; replay unlocked with the admin secret)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from credits_core import CreditsService, FixedClock, SqliteStore
from credits_core.registry import SqliteRegistryRepository
from credits_core.seed import seed_demo
from tests.servers import streamlit_server

from .helpers import chip, nav, shot, wait_idle

pytestmark = pytest.mark.e2e

NOW = "2026-11-20T12:00:00Z"  # CZ_CLOCK: the DEMO month and "last full month" never depend on today
ADMIN = "adm_e2e_" + secrets.token_hex(8)


@pytest.fixture(scope="module")
def server(browser, artifacts_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A server on a seeded ledger (12 users, Aug–Nov 2026), frozen clock, admin secret set."""
    ledger = tmp_path_factory.mktemp("e2e-insights") / "ledger.sqlite3"
    store = SqliteStore(ledger)
    end = datetime(2026, 11, 20, 12, tzinfo=UTC)
    seed_demo(CreditsService(store, SqliteRegistryRepository(ledger), clock=FixedClock(end)), users=12, months=4, end=end)
    store.close()
    env = {"CZ_UI_THINK_SECONDS": "0", "CZ_LEDGER_PATH": str(ledger), "CZ_CLOCK": NOW, "CZ_REGISTRY_ADMIN_SECRET": ADMIN}
    with streamlit_server(env, log_dir=artifacts_dir / "e2e" / "logs") as srv:
        yield srv


def scenario(page: Page, label: str) -> None:
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.get_by_role("button", name="Scenarios").click()
    page.get_by_role("button", name=label, exact=True).click()
    wait_idle(page)


def state_link(page: Page) -> str:
    page.locator("[data-testid='stSidebar']").get_by_role("button", name="Copy link to this state").click()
    code = page.locator("[data-testid='stCode'] code").filter(has_text="scenario=")
    expect(code).to_have_count(1)
    link = code.inner_text().strip()
    page.keyboard.press("Escape")
    return link


def test_a_scenario_link_opens_the_same_state_in_a_new_browser(server, browser, page: Page, shots: Path) -> None:
    page.goto(server.url)
    expect(chip(page)).to_contain_text("100 credits · DEMO")
    scenario(page, "Just after a downgrade trim")
    expect(page.get_by_text("trimmed 4,200")).to_be_visible()
    expect(chip(page)).to_contain_text("300 credits · DEMO")
    shot(page, shots, "10-scenario-downgrade-trim")
    link = state_link(page)
    assert link.startswith(server.url) and "scenario=downgrade_trim" in link

    other = browser.new_context(viewport={"width": 1440, "height": 1000})
    try:
        fresh = other.new_page()
        fresh.goto(link)
        expect(fresh.get_by_text("Opened a DEMO scenario link")).to_be_visible()
        expect(chip(fresh)).to_contain_text("300 credits · DEMO")
        expect(fresh.locator("[data-testid='stMetric']").filter(has_text="Plan")).to_contain_text("Base")
        expect(fresh.locator("[data-testid='stSidebar']").get_by_text("Demo month: 2026-11")).to_be_visible()
        shot(fresh, shots, "11-scenario-link-new-browser")
        fresh.goto(server.url + "/account?v=1&scenario=empty&plan=gold&included=0&purchased=0&month=2026-11&enforce=1")
        expect(fresh.get_by_text("could not be opened")).to_be_visible()
        expect(chip(fresh)).to_contain_text("100 credits · DEMO")
        shot(fresh, shots, "12-bad-scenario-link")
    finally:
        other.close()


def ask(page: Page, question: str) -> None:
    box = page.get_by_label("Your question")
    box.fill(question)
    box.press("Control+Enter")
    wait_idle(page)
    submit = page.locator(".st-key-cz_ask_submit button")
    expect(submit).to_have_count(1)
    submit.click()
    wait_idle(page)


def test_one_left_blocks_the_second_question(server, page: Page, shots: Path) -> None:
    page.goto(server.url)
    expect(chip(page)).to_contain_text("credits · DEMO")
    scenario(page, "Exactly one quick answer left")
    expect(chip(page)).to_contain_text("1 credit · DEMO")
    nav(page, "Ask AI")
    ask(page, "First question?")
    expect(chip(page)).to_contain_text("0 credits · DEMO")
    ask(page, "Second question?")
    expect(page.get_by_text("Not enough credits")).to_be_visible()
    shot(page, shots, "13-one-left-blocked")


def test_replay_renders_its_table_and_charts(server, page: Page, shots: Path) -> None:
    page.goto(server.url)
    expect(chip(page)).to_contain_text("credits · DEMO")
    nav(page, "Pricing preview")
    page.get_by_text("Replay the server ledger (admin secret)").click()
    page.get_by_label("Admin secret").fill(ADMIN)
    page.get_by_role("button", name="Unlock").click()
    wait_idle(page)
    tables = page.locator("[data-testid='stDataFrame']")
    before = tables.count()  # the what-if editors and the personas table
    page.locator(".st-key-cz_replay_run button").click()
    wait_idle(page)
    expect(page.get_by_text("Users replayed")).to_be_visible()
    expect(page.locator("[data-testid='stMetric']").filter(has_text="Same end balance")).to_contain_text("12 / 12")
    expect(tables).to_have_count(before + 2)  # the comparison and the per-user table
    expect(page.locator("[data-testid='stVegaLiteChart']")).to_have_count(3)
    shot(page, shots, "14-replay", max_height=4200)
