"""Every page renders in both modes, with the frame: DEMO banner, header chip, navigation."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from ..helpers import assert_clean, chip, messages, open_page, signed_in

PAGES = {
    "pages/account.py": "Account",
    "pages/ask_ai.py": "Ask AI",
    "pages/ops_ledger.py": "Ops ledger",
    "pages/pricing_preview.py": "Pricing preview",
    "pages/registry_admin.py": "Registry admin",
}


def test_root_lands_on_account_as_demo(demo: AppTest) -> None:
    assert_clean(demo)
    assert [t.value for t in demo.title] == ["Account"]
    assert "DEMO mode" in messages(demo)
    assert chip(demo) == "100 credits · DEMO"
    # the chip's tooltip carries plan / soft cap / included / purchased
    link = next(p for p in demo.get("page_link") if " credits" in p.value)
    assert "Base" in link.proto.help and "300" in link.proto.help and "Purchased" in link.proto.help


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_renders_in_demo(demo: AppTest, path: str) -> None:
    open_page(demo, path)
    assert [t.value for t in demo.title] == [PAGES[path]]
    assert "DEMO mode" in messages(demo)
    assert chip(demo).endswith("· DEMO")
    assert any(b.label == "Next month" for b in demo.sidebar.button), "DEMO controls in the sidebar"
    # running the same page again keeps the frame (Streamlit's pages/ dir mode must not take over)
    demo.run()
    assert_clean(demo)
    assert chip(demo).endswith("· DEMO")


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_renders_signed_in(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    monkeypatch.setenv("CZ_ADMIN_USERS", "user_ui_1")
    at = signed_in()
    open_page(at, path)
    assert [t.value for t in at.title] == [PAGES[path]]
    assert "DEMO" not in chip(at)
    assert "DEMO mode" not in messages(at)
    assert not any(b.label == "Next month" for b in at.sidebar.button)


def test_login_button_hidden_without_auth_config(demo: AppTest) -> None:
    labels = [b.label for b in demo.sidebar.button]
    assert not any(label.startswith("Sign in") for label in labels)
    assert any("needs sign-in" in c.value for c in demo.sidebar.caption)


def test_login_button_shown_with_auth_config() -> None:
    from ..helpers import new_app

    at = new_app()
    at.secrets["auth"] = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "x" * 32,
        "client_id": "id",
        "client_secret": "secret",
        "server_metadata_url": "https://example.invalid/.well-known/openid-configuration",
    }
    at.run()
    assert_clean(at)
    assert "Sign in" in [b.label for b in at.sidebar.button]
