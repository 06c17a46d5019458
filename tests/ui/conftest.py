"""AppTest harness: a fresh runtime per test (see ``helpers`` for driving pages).

``AppTest.from_file("app.py")`` runs the real entry point (navigation, frame,
chip); ``switch_page("pages/…")`` + ``run()`` opens a page. Server mode is a
signed-in ``AppTest.user``; its ledger is a temporary SQLite file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from credits_core.runtime import reset_shared

from .helpers import new_app


@pytest.fixture(autouse=True)
def fresh_runtime(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No thinking delay, a throw-away server ledger, a new shared service and empty caches."""
    monkeypatch.setenv("CZ_UI_THINK_SECONDS", "0")
    monkeypatch.setenv("CZ_LEDGER_PATH", str(tmp_path / "ledger.sqlite3"))
    monkeypatch.setenv("CZ_STARTER_PLAN", "base")  # signed-in users start on Base here; none is tested apart
    reset_shared()
    st.cache_data.clear()
    yield
    reset_shared()
    st.cache_data.clear()


@pytest.fixture
def demo() -> AppTest:
    """A DEMO visitor on the Account page."""
    return new_app().run()
