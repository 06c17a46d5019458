"""Grants, rollover, caps and plan changes at the edges of the calendar (UTC), on the injected clock.

The same instants CI freezes the whole app at (``make test-dates``): the 1st of
a month at 00:00:30, 31 December at 23:59:30, and 29 February.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from credits_core import CreditsService, FixedClock, MemoryStore, load_settings
from credits_core.clock import add_months, month_of
from credits_core.registry import MemoryRegistryRepository
from tests.ledgers import Ledger

EDGES = {
    "first-of-month": datetime(2027, 3, 1, 0, 0, 30, tzinfo=UTC),
    "new-years-eve": datetime(2026, 12, 31, 23, 59, 30, tzinfo=UTC),
    "leap-day": datetime(2028, 2, 29, 12, 0, tzinfo=UTC),
}


@pytest.fixture(params=list(EDGES), ids=list(EDGES))
def at(request) -> datetime:
    return EDGES[request.param]


def ledger_at(clock: FixedClock) -> Ledger:
    store = MemoryStore()
    return Ledger(CreditsService(store, MemoryRegistryRepository(), clock=clock, starter_plan="base"), store)


def test_a_new_user_is_granted_the_month_of_the_clock(at):
    service, store = ledger_at(FixedClock(at))
    state = service.state("u1")
    assert state.month == month_of(at) and state.balance.included == 100
    assert store.find(f"CZ_SMCR|grant|u1|{month_of(at)}") is not None


def test_thirty_seconds_later_or_a_month_later_the_next_grant_is_capped(at):
    clock = FixedClock(at)
    service, store = ledger_at(clock)
    service.debit("u1", "comps_report", "d1")  # 97 left
    clock.tick(seconds=45)
    crossed = month_of(clock.now()) != month_of(at)
    state = service.state("u1")
    assert state.balance.included == (197 if crossed else 97)
    clock.at = add_months(at, 3)  # three more months: each granted, the soft cap (300) holds
    state = service.state("u1")
    assert state.balance.included == 300 and state.month == month_of(clock.at)
    trims = [r for r in store.tail("u1", 50) if r.kind == "trim"]
    assert all(r.delta < 0 for r in trims)


def test_plan_changes_at_the_edge_stay_within_the_months_grants(at):
    clock = FixedClock(at)
    service = ledger_at(clock).service
    up = service.change_plan("u1", "professional")
    assert up.granted == 1400
    service.change_plan("u1", "base")
    assert service.change_plan("u1", "professional").granted == 0  # same month: nothing new
    clock.tick(seconds=45)
    if month_of(clock.now()) != month_of(at):  # a new month: the monthly grant, capped at 4,500
        assert service.state("u1").balance.included == 300 + 1500


def test_cz_clock_freezes_the_configured_service(at):
    settings = load_settings({"CZ_LEDGER": "memory", "CZ_CLOCK": at.isoformat().replace("+00:00", "Z")})
    assert settings.clock().now() == at
