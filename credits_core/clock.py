"""Injectable clocks: policy never reads the wall clock itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The real UTC clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class OffsetClock:
    """A clock shifted by whole calendar months (the DEMO 'advance month')."""

    def __init__(self, base: Clock | None = None, months: int = 0) -> None:
        self.base = base or SystemClock()
        self.months = months

    def advance_month(self) -> None:
        self.months += 1

    def now(self) -> datetime:
        return add_months(self.base.now(), self.months)


class FixedClock:
    """A settable clock for tests."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def tick(self, **delta: float) -> None:
        self.at = self.at + timedelta(**delta)


def month_of(at: datetime) -> str:
    """Calendar month in UTC as ``YYYY-MM``."""
    utc = at.astimezone(UTC)
    return f"{utc.year:04d}-{utc.month:02d}"


def next_month(month: str) -> str:
    year, mon = map(int, month.split("-"))
    year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
    return f"{year:04d}-{mon:02d}"


def months_between(after: str, until: str) -> list[str]:
    """Months strictly after ``after`` up to and including ``until``."""
    out, cur = [], after
    while cur < until:
        cur = next_month(cur)
        out.append(cur)
    return out


def add_months(at: datetime, months: int) -> datetime:
    """``at`` moved by whole months, the day clamped to the month's length."""
    if not months:
        return at
    index = at.year * 12 + at.month - 1 + months
    year, mon = divmod(index, 12)
    day = min(at.day, _days_in(year, mon + 1))
    return at.replace(year=year, month=mon + 1, day=day)


def _days_in(year: int, month: int) -> int:
    nxt = datetime(year + (month == 12), month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day


class PinnedClock:
    """A clock stopped at one instant that a DEMO "Next month" still moves (scenarios)."""

    def __init__(self, at: datetime, base: Clock | None = None) -> None:
        self.at = at
        self.base = base  # the clock it was pinned from (a later scenario starts from it)

    def now(self) -> datetime:
        return self.at

    def advance_month(self) -> None:
        self.at = add_months(self.at, 1)
