"""Service answers that must hold on every store (memory, SQLite, Odoo over both protocols)."""

from __future__ import annotations

from datetime import UTC, datetime

from credits_core import CreditsService, FixedClock
from credits_core.registry import MemoryRegistryRepository

AT = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def service_on(store) -> CreditsService:
    return CreditsService(store, MemoryRegistryRepository(), clock=FixedClock(AT), starter_plan="base")


def test_a_support_read_of_an_unknown_user_writes_nothing(store):
    service = service_on(store)
    state = service.state("user_typo", tail=20, read_only=True)
    assert state.balance.total == 100 and state.plan == "base"  # what the user would have...
    assert store.tail("user_typo", 20) == [] and store.find("CZ_SMCR|grant|user_typo|2026-03") is None  # ...unwritten
    assert store.account("user_typo").month is None


def test_a_replay_of_a_refunded_debit_shows_the_refund(store):
    service = service_on(store)
    first = service.debit("u1", "comps_report", "q-1")
    service.refund("q-1", "provider timeout")
    again = service.debit("u1", "comps_report", "q-1")
    assert again.replayed and again.row == first.row and again.balance == first.balance
    assert again.refund is not None and again.refund.delta == 3 and again.refund.meta["reason"] == "provider timeout"
    assert again.to_dict()["refund"]["name"] == "CZ_SMCR|refund|q-1"
    assert service.state("u1").balance.total == 100
