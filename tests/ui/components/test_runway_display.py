"""The chip's tooltip and the Account page show the runway once there is history, and a notice when short."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from credits_core import FixedClock

from ..helpers import assert_clean, demo_service, demo_user, new_app

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _history(at, per_day: int, days: int = 14) -> None:
    service, user = demo_service(at), demo_user(at)
    for d in range(days):
        service.clock = FixedClock(NOW - timedelta(days=days - d))
        for i in range(per_day):
            service.debit(user, "ask_ai", f"rw-{d}-{i}")
    service.clock = FixedClock(NOW)


def _chip_help(at) -> str:
    return next(p.help for p in at.get("page_link") if "credits" in p.value and p.help)


def test_no_runway_without_history_then_days_left_and_a_notice() -> None:
    at = new_app().run()
    assert "Runway" not in _chip_help(at)
    assert not any("recent pace" in c.value for c in at.caption)
    _history(at, per_day=6)  # 84 of 100 spent over 14 days: 16 left at 6 a day
    at.run()
    assert_clean(at)
    assert "left at your recent pace" in _chip_help(at)
    assert any("Your credits may run out soon" in w.value for w in at.warning)
    assert not any("recent pace" in c.value for c in at.caption)
