"""Ops ledger in a real browser on a seeded SQLite ledger, unlocked with the admin secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from credits_core import CreditsService, SqliteStore
from credits_core.registry import SqliteRegistryRepository
from credits_core.seed import seed_demo
from tests.servers import streamlit_server

from .helpers import shot, wait_idle

pytestmark = pytest.mark.e2e
SECRET = "e2e-ops-secret-1234"


@pytest.fixture(scope="module")
def seeded_server(browser, artifacts_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A server on a freshly seeded SQLite ledger with an admin secret (after the browser check)."""
    ledger = tmp_path_factory.mktemp("e2e-ops") / "ledger.sqlite3"
    store = SqliteStore(ledger)
    service = CreditsService(store, SqliteRegistryRepository(ledger), enforce=True)  # refusals → top-ups
    with store.relaxed_durability():
        report = seed_demo(service, users=16, months=3, scale=1.0)
    store.close()
    env = {"CZ_LEDGER_PATH": str(ledger), "CZ_REGISTRY_ADMIN_SECRET": SECRET, "CZ_UI_THINK_SECONDS": "0"}
    with streamlit_server(env, log_dir=artifacts_dir / "e2e" / "logs") as srv:
        yield srv, report


def test_ops_page_shows_the_seeded_ledger(seeded_server, page: Page, shots: Path) -> None:
    server, report = seeded_server
    page.goto(server.url + "/ops_ledger")  # a deep link as the first request of a fresh server
    expect(page.locator("h1").first).to_contain_text("Ops ledger")
    expect(page.get_by_text("this DEMO session's own ledger")).to_be_visible()

    page.get_by_text("Admin access").click()
    page.get_by_label("Admin secret").fill(SECRET)
    page.get_by_role("button", name="Unlock").click()
    wait_idle(page)
    expect(page.get_by_text("Showing: Server ledger")).to_be_visible()
    charts = page.locator("[data-testid='stVegaLiteChart']")
    expect(charts).to_have_count(5)  # outstanding, in vs out, per kind, top tools, balances
    for i in range(5):
        expect(charts.nth(i).locator("canvas, svg").first).to_be_visible()
    rows_metric = page.locator("[data-testid='stMetric']", has_text="Ledger rows")
    expect(rows_metric).to_be_visible()
    shown = int(rows_metric.locator("[data-testid='stMetricValue']").inner_text().replace(",", ""))
    assert shown >= report.operations
    expect(page.get_by_text("Top tools", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Export rows (CSV)")).to_be_visible()
    shot(page, shots, "07-ops-ledger-seeded")
