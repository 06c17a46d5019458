"""Real headless Chromium (Debian's, driven by Playwright) against `streamlit run app.py`.

Skipped cleanly when no ``chromium`` binary is on PATH. Screenshots go to
``test-artifacts/e2e/``.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import StreamlitServer, streamlit_server
from tests.standins.oidc_server import OidcStandIn
from tests.standins.stripe import FakeStripe

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


@dataclass
class SignedInStack:
    """A server with sign-in (the OIDC stand-in) and Stripe payments (FakeStripe) on a SQLite ledger."""

    server: StreamlitServer
    idp: OidcStandIn
    stripe: FakeStripe
    ledger: Path


@pytest.fixture(scope="session")
def signed_in_stack(browser, artifacts_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignedInStack]:
    """`streamlit run app.py` whose ``[auth]`` points ``st.login`` at a local OIDC provider.

    The secrets file lives in a temp dir and reaches Streamlit through its
    ``secrets.files`` option (env ``STREAMLIT_SECRETS_FILES``), so the repo's
    ``.streamlit/`` is never touched; ``{port}`` in ``redirect_uri`` is filled
    in by Streamlit. FakeStripe's webhook goes to the server's own
    ``/api/stripe-webhook``. Shared by the signed-in e2e modules (one server).
    """
    tmp = tmp_path_factory.mktemp("e2e-signed-in")
    ledger = tmp / "ledger.sqlite3"
    with OidcStandIn(lifetime_s=900) as idp, FakeStripe(lifetime_s=900) as stripe:
        secrets_file = tmp / "secrets.toml"
        secrets_file.write_text(idp.secrets_toml("http://127.0.0.1:{port}/oauth2callback", secrets.token_hex(24)))
        env = {
            "CZ_UI_THINK_SECONDS": "0",
            "CZ_LEDGER_PATH": str(ledger),
            "CZ_STARTER_PLAN": "base",  # signed-in users start with Base's 100 credits in these flows
            "STRIPE_SECRET_KEY": stripe.secret_key,
            "STRIPE_WEBHOOK_SECRET": stripe.webhook_secret,
            "STRIPE_API_BASE": stripe.url,
            "STREAMLIT_SECRETS_FILES": str(secrets_file),
        }
        with streamlit_server(env, log_dir=artifacts_dir / "e2e" / "logs") as srv:
            stripe.set_webhook_url(srv.url + "/api/stripe-webhook")
            yield SignedInStack(srv, idp, stripe, ledger)
