"""Helpers to drive the app with AppTest: open pages, click, read the chip and messages."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from streamlit.testing.v1 import AppTest

from credits_core import SqliteStore
from credits_core.runtime import shared_service

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
TIMEOUT = 60  # the machine is shared; a run normally takes well under a second


def new_app() -> AppTest:
    """An AppTest on ``app.py`` (not yet run), as a first-time DEMO visitor."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.user = {"is_logged_in": False}
    at.session_state["cz_think_seconds"] = 0
    return at


def signed_in(sub: str = "user_ui_1", email: str | None = "ui1@example.com", name: str = "Ada Analyst") -> AppTest:
    """An AppTest whose ``st.user`` is a signed-in OIDC user (server mode)."""
    at = new_app()
    at.user = {"is_logged_in": True, "sub": sub, "email": email, "name": name}
    return at.run()


def open_page(at: AppTest, path: str) -> AppTest:
    """Switch to ``pages/<file>`` and run; fails on any exception element."""
    at.switch_page(path).run()
    assert_clean(at)
    return at


def assert_clean(at: AppTest) -> None:
    """No exception element was rendered."""
    assert not at.exception, [e.value for e in at.exception]


def button(at: AppTest, label: str):
    """The first button (main or sidebar) whose label is ``label``."""
    for b in at.button:
        if b.label == label:
            return b
    raise AssertionError(f"no button {label!r}; buttons: {[b.label for b in at.button]}")


def click(at: AppTest, label: str) -> AppTest:
    """Click a button by label and rerun."""
    button(at, label).click().run()
    assert_clean(at)
    return at


def chip(at: AppTest) -> str:
    """The header chip's label, e.g. ``100 credits · DEMO``."""
    links = [p.value for p in at.get("page_link") if re.match(r"^[\d,]+ credits?\b", p.value)]
    assert links, "no header chip on the page"
    return links[0]


def messages(at: AppTest) -> str:
    """Every success / info / warning / error text on the page, one per line."""
    return "\n".join(e.value for kind in (at.success, at.info, at.warning, at.error) for e in kind)


def metric(at: AppTest, label: str) -> str:
    """The value of the first metric with this label."""
    for m in at.metric:
        if m.label == label:
            return m.value
    raise AssertionError(f"no metric {label!r}; metrics: {[m.label for m in at.metric]}")


def demo_service(at: AppTest):
    """The DEMO session's own service."""
    return at.session_state["cz_demo_service"]


def demo_user(at: AppTest) -> str:
    return at.session_state["cz_demo_user"]


def server_service():
    """The process-wide server-mode service (same as the HTTP API's)."""
    return shared_service()


def ledger_path() -> str:
    return os.environ["CZ_LEDGER_PATH"]


@contextmanager
def server_store() -> Iterator[SqliteStore]:
    """The server's ledger file, opened by the test with ``credits_core.SqliteStore``."""
    store = SqliteStore(ledger_path())
    try:
        yield store
    finally:
        store.close()
