"""Locators and waits for Streamlit pages in Playwright."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Locator, Page, expect

expect.set_options(timeout=20_000)  # a shared 2-core machine: reruns can take a few seconds


def wait_idle(page: Page, timeout_ms: int = 30_000) -> None:
    """Wait until the script run finished (Streamlit's running indicator is gone)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    page.wait_for_function(
        '() => !document.querySelector(\'[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]\')'
        " && !document.querySelector('[data-testid=\"stSkeleton\"]')",
        timeout=timeout_ms,
    )


def chip(page: Page) -> Locator:
    """The header chip link (keyed container ``cz_chip``)."""
    return page.locator(".st-key-cz_chip [data-testid='stPageLink']")


def nav(page: Page, title: str) -> None:
    """Open a page from the sidebar navigation (keeps the Streamlit session)."""
    page.locator("[data-testid='stSidebarNav']").get_by_text(title, exact=True).click()
    expect(page.locator("h1").first).to_contain_text(title)
    wait_idle(page)


def shot(page: Page, folder: Path, name: str, *, max_height: int = 3200) -> Path:
    """A screenshot of the whole page under ``folder``.

    Streamlit scrolls inside its main container, so ``full_page`` alone shows
    one viewport: the viewport is stretched to the content for the shot.
    """
    wait_idle(page)
    size = page.viewport_size or {"width": 1440, "height": 1000}
    height = page.evaluate(
        "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
        " return m ? m.scrollHeight : document.body.scrollHeight; }"
    )
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(height) + 40, max_height))})
    wait_idle(page)
    page.wait_for_timeout(300)  # let charts re-layout to the new size
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path


def sign_in(page: Page, base_url: str) -> None:
    """Open the app and use its sidebar "Sign in" button (``st.login``); the provider auto-approves.

    The browser goes ``/auth/login`` → the provider's ``/authorize`` →
    ``/oauth2callback`` → ``/`` → ``/account``, and the new session is signed in.
    """
    page.goto(base_url)
    expect(page.locator("h1").first).to_contain_text("Account")
    wait_idle(page)
    page.locator("[data-testid='stSidebar']").get_by_role("button", name="Sign in").click()
    expect(page.locator("[data-testid='stSidebar']").get_by_text("Signed in as")).to_be_visible(timeout=30_000)
    expect(page.locator("h1").first).to_contain_text("Account")
    wait_idle(page)
