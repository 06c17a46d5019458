"""The app runs on the configured clock: ``CZ_CLOCK`` (the fixed-date CI runs) or the system's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from credits_core.clock import month_of

from .helpers import new_app, server_service, signed_in


def test_demo_and_server_mode_use_the_configured_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CZ_CLOCK", "2028-02-29T12:00:00Z")
    at = new_app().run()
    demo = at.session_state["cz_demo_service"]
    assert demo.now() == datetime(2028, 2, 29, 12, tzinfo=UTC)
    signed_in().run()
    assert month_of(server_service().now()) == "2028-02"
    assert server_service().state("user_ui_1").month == "2028-02"
