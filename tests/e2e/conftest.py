"""Real headless Chromium (Debian's, driven by Playwright) against `streamlit run app.py`.

Skipped cleanly when no ``chromium`` binary is on PATH. Screenshots go to
``test-artifacts/e2e/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One Chromium for the whole e2e session."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (make system-deps)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    """A fresh browser context (a new visitor) and page, desktop-sized."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(30_000)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture(scope="session")
def shots(artifacts_dir: Path) -> Path:
    """Where screenshots are saved."""
    out = artifacts_dir / "e2e"
    out.mkdir(parents=True, exist_ok=True)
    return out
