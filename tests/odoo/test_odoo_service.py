"""The credit rules through CreditsService on the Odoo store, same answers as the memory store."""

from __future__ import annotations

from typing import Any

import pytest

from credits_core import CreditsService, FixedClock, MemoryStore
from credits_core.errors import CreditsError, IdempotencyConflict, InsufficientCredits, PlanRequired
from credits_core.models import Balance
from credits_core.registry import MemoryRegistryRepository
from tests.core.conftest import T0
from tests.core.support import assert_consistent, user_rows
from tests.odoo.support import open_store


def script(service: CreditsService, clock: FixedClock) -> list[Any]:
    """Debits, plan changes (up, down, up again), refund, top-up, replays, conflicts, a rollover."""
    out: list[Any] = []

    def run(fn, *args, **kwargs):
        try:
            out.append(fn(*args, **kwargs))
        except CreditsError as exc:
            out.append((exc.code, exc.details))

    run(service.state, "ann", tail=5)
    for i in range(3):
        run(service.debit, "ann", "comps_report", f"k{i}")
    run(service.debit, "ann", "comps_report", "k1")  # replay
    run(service.debit, "ann", "ask_ai", "k1")  # same key, other tool
    run(service.debit, "bob", "comps_report", "k1")  # same key, other user
    run(service.debit, "ann", "valuation_model", "v1")  # plan_required
    run(service.change_plan, "ann", "intelligence", request_id="r1", dry_run=True)
    run(service.change_plan, "ann", "intelligence", request_id="r1")
    run(service.debit, "ann", "valuation_model", "v1")
    run(service.change_plan, "ann", "base", request_id="r2")  # trim to the base soft cap
    run(service.change_plan, "ann", "intelligence", request_id="r3")  # nothing new this month
    run(service.refund, "k0", "tool failed")
    run(service.refund, "k0", "again")  # replay
    run(service.refund, "nope")
    run(service.top_up, "ann", "pack_100", "cs_1")
    run(service.top_up, "ann", "pack_100", "cs_1")  # replay
    run(service.top_up, "bob", "pack_100", "cs_1")  # another user's session
    run(service.adjust, "bob", "fix-1", 7, "purchased", "goodwill")
    service.enforce = True
    for i in range(120):
        run(service.debit, "bob", "ask_ai", f"b{i}")
    service.enforce = False
    run(service.debit, "bob", "comps_report", "warn-1")  # warn-only: zero-delta row
    clock.tick(days=40)  # next month: rollover with catch-up
    run(service.state, "ann", tail=50)
    run(service.debit, "ann", "ask_ai", "after-rollover")
    return out


@pytest.mark.slow
def test_same_answers_and_rows_as_the_memory_store(store):
    odoo_clock, memory_clock = FixedClock(T0), FixedClock(T0)
    odoo = CreditsService(store, MemoryRegistryRepository(), clock=odoo_clock)
    memory_store = MemoryStore()
    memory = CreditsService(memory_store, MemoryRegistryRepository(), clock=memory_clock)
    got, want = script(odoo, odoo_clock), script(memory, memory_clock)
    assert len(got) == len(want)
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        assert a == b, f"answer {i} differs"
    for user in ("ann", "bob"):
        assert user_rows(store, user) == user_rows(memory_store, user)
        assert assert_consistent(store, user) == memory_store.account(user)
    assert store.daily_totals() == memory_store.daily_totals()
    assert store.top_tools() == memory_store.top_tools()


def test_plan_required_and_insufficient_credits_write_nothing(service, store, fake):
    service.enforce = True
    service.state("u")
    with pytest.raises(PlanRequired):
        service.debit("u", "portfolio_scan", "scan-0")
    service.change_plan("u", "professional", request_id="p")
    balance = store.account("u").balance.total
    for i in range(balance // 25):
        service.debit("u", "portfolio_scan", f"scan-{i}")
    before = fake.rows(active_test=False)
    with pytest.raises(InsufficientCredits) as info:
        service.debit("u", "portfolio_scan", "one-too-many")
    assert info.value.details["required"] == 25 and info.value.details["topUp"]["packs"]
    assert info.value.details["balance"]["total"] == balance % 25
    assert fake.rows(active_test=False) == before
    assert all(r["active"] for r in before)


def test_replay_returns_the_first_answer_from_another_process(store, make_store, clock):
    first = CreditsService(store, MemoryRegistryRepository(), clock=clock)
    second = CreditsService(make_store(), MemoryRegistryRepository(), clock=clock)
    answer = first.debit("u", "comps_report", "once")
    first.debit("u", "ask_ai", "later")
    again = second.debit("u", "comps_report", "once")
    assert again.replayed and (again.row, again.balance) == (answer.row, answer.balance)
    with pytest.raises(IdempotencyConflict) as info:
        second.debit("someone-else", "comps_report", "once")
    assert info.value.details == {"field": "userId"} and "u" not in info.value.message.split()


def test_round_trips_of_state_and_a_warm_debit(service, fake):
    service.state("u")  # cold: aggregate, monthly grant, verify, tail
    fake.reset_calls()
    service.state("u")
    assert len(fake.calls()) <= 2, fake.calls()
    for i in range(5):
        fake.reset_calls()
        service.debit("u", "ask_ai", f"warm-{i}")
        assert len(fake.calls()) <= 3, fake.calls()
    fake.reset_calls()
    # lookup, the debit's refund (a replay says whether it was refunded), a re-read confirming the cached view
    assert service.debit("u", "ask_ai", "warm-0").replayed
    assert len(fake.calls()) <= 3, fake.calls()


def test_a_stale_per_process_copy_never_changes_what_is_charged(service, store, make_store, clock, fake):
    other = CreditsService(make_store(), MemoryRegistryRepository(), clock=clock)
    service.state("u")
    service.debit("u", "ask_ai", "a1")  # this process now holds a verified copy of the account (99)
    other.debit("u", "comps_report", "b1")  # another process changes it (96)
    kept = service.debit("u", "ask_ai", "a2")  # decided on the copy: withdrawn (stale base), decided again
    assert kept.row.delta == -1 and assert_consistent(store, "u").balance == Balance(95, 0)
    assert kept.balance == Balance(95, 0)  # the ledger's balance after it (issue 12 item 5)
    assert other.debit("u", "ask_ai", "a2").balance == kept.balance
    assert service.debit("u", "ask_ai", "a3").balance == Balance(94, 0)  # contention seen: fresh views now
    archived = [r["name"] for r in fake.rows(active_test=False) if not r["active"]]
    assert archived == ["CZ_SMCR|debit|a2"]  # the copy's attempt, withdrawn before anyone could replay it


def test_a_stale_copy_that_would_overdraw_is_withdrawn_and_decided_again(service, store, make_store, clock, fake):
    other = CreditsService(make_store(), MemoryRegistryRepository(), clock=clock)
    service.state("u")
    service.debit("u", "ask_ai", "a1")  # copy: 99
    other.adjust("u", "drain", -99, "included", "empty it")
    answer = service.debit("u", "ask_ai", "a2")  # the copy says 99, Odoo says 0: warn-only, nothing charged
    assert answer.warning and answer.row.delta == 0 and answer.balance == Balance(0, 0)
    assert assert_consistent(store, "u").balance == Balance(0, 0)
    archived = [r for r in fake.rows(active_test=False) if not r["active"]]
    assert [(r["name"], r["expected_revenue"]) for r in archived] == [("CZ_SMCR|debit|a2", -1.0)]


def test_jsonrpc_writes_pass_vals_list_positionally_as_odoo_19_requires(fake, clock):
    """Issue 12 item 2: ``create`` with ``vals_list`` only as a keyword inserts, then fails on ``args[0]``
    and rolls back in Odoo 19 (ODOO_NOTES); the stand-in does the same, so a new user's state and a
    debit over /jsonrpc only work when the values go in ``args``."""
    store = open_store(fake, "jsonrpc")
    service = CreditsService(store, MemoryRegistryRepository(), clock=clock)
    try:
        assert service.state("new-user").balance == Balance(100, 0)
        answer = service.debit("new-user", "comps_report", "k1")
    finally:
        store.close()
    assert answer.balance == Balance(97, 0) and not answer.replayed
    assert sorted(r["referred"] for r in fake.rows()) == ["debit", "grant"]
