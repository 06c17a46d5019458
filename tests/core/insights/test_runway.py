"""Runway: days a balance lasts at the recent pace, with the next monthly grant; nothing without history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from credits_core import CreditsService, FixedClock, MemoryStore
from credits_core.insights.runway import drawdown, estimate
from credits_core.models import Balance
from credits_core.registry import MemoryRegistryRepository

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def steady(per_day: int, days: int = 28) -> list[tuple[datetime, int]]:
    return [(NOW - timedelta(days=d, hours=1), per_day) for d in range(days)]


def test_steady_pace_without_grant_in_reach() -> None:
    # 10/day, 50 credits, the 1st is 10.5 days away: 5 days left, range collapses on a steady pace.
    rw = estimate(steady(10), Balance(0, 50), 100, 300, NOW)
    assert rw is not None
    assert rw.days == rw.low == rw.high == 5.0
    assert rw.run_out_on == date(2026, 11, 25)
    assert rw.text() == "≈ 5 days left at your recent pace (range 5–5)"
    assert not rw.short


def test_next_monthly_grant_is_counted() -> None:
    # 10/day, 150 included: 10.5 days to 1 Dec (105 spent), +100 grant (cap 300) → 145 more = 14.5 days.
    assert drawdown(Balance(150, 0), 10, 100, 300, NOW) == 10.5 + 14.5
    rw = estimate(steady(10), Balance(150, 0), 100, 300, NOW)
    assert rw is not None and rw.days == 25.0 and rw.next_grant == 100


def test_variable_pace_gives_a_range_and_short_runway_a_notice() -> None:
    usage = [(NOW - timedelta(days=d, hours=1), 30 if d < 7 else 2) for d in range(28)]  # a busier last week
    rw = estimate(usage, Balance(0, 20), 0, 0, NOW)
    assert rw is not None and rw.low is not None and rw.high is not None
    assert rw.low < rw.days < rw.high
    assert rw.short  # under 3 days


def test_holds_come_off_the_start() -> None:
    rw = estimate(steady(10), Balance(0, 50), 100, 300, NOW, holds=20)
    assert rw is not None and rw.days == 3.0 and rw.holds == 20


def test_too_little_history_says_nothing() -> None:
    assert estimate(steady(10, days=3), Balance(0, 50), 100, 300, NOW) is None  # 3 days of use
    assert estimate([], Balance(0, 50), 100, 300, NOW) is None
    assert estimate(steady(0), Balance(0, 50), 100, 300, NOW) is None  # nothing spent
    assert estimate(steady(1), Balance(300, 0), 100, 300, NOW).days is None  # beyond a year


def test_service_runway_reads_the_users_recent_debits() -> None:
    service = CreditsService(MemoryStore(), MemoryRegistryRepository(), clock=FixedClock(NOW - timedelta(days=14)))
    for d in range(14):
        service.clock = FixedClock(NOW - timedelta(days=14 - d))
        for i in range(5):
            service.debit("u", "ask_ai", f"k-{d}-{i}")
    service.clock = FixedClock(NOW)
    assert service.state("u", tail=0).balance.total == 30
    rw = service.runway("u")
    assert rw is not None and 5.5 <= rw.days <= 6.5 and rw.to_dict()["nextGrant"] == 100
    assert service.runway("nobody") is None
