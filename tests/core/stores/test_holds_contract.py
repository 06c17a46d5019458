"""Holds (reserve, settle, release, expire) on every store: memory, SQLite, Odoo over both protocols."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest

from credits_core import CreditsService, FixedClock
from credits_core.errors import CreditsError
from credits_core.registry import MemoryRegistryRepository
from tests.core.support import assert_consistent

AT = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def service_on(store, *, enforce: bool = True, clock: FixedClock | None = None) -> CreditsService:
    return CreditsService(
        store, MemoryRegistryRepository(), clock=clock or FixedClock(AT), starter_plan="intelligence", enforce=enforce
    )


def code_of(call) -> str:
    with pytest.raises(CreditsError) as caught:
        call()
    return caught.value.code


def test_hold_settle_release_and_the_receipt(store):
    svc = service_on(store)
    held = svc.hold("u", "ask_ai_deep", "h-1")  # 1 credit × 8 estimated steps
    assert (held.row.meta["held"], held.available, held.balance.total) == (8, 392, 400)
    state = svc.state("u", tail=0)
    assert (state.available, state.holds) == (392, (("h-1", 8, held.row.meta["expiresAt"]),))
    settled = svc.settle("u", "h-1", 5)
    receipt = settled.to_dict()["receipt"]
    assert receipt["charged"] == 5 and receipt["reserved"] == 8 and receipt["released"] == 3
    assert receipt["unitPrice"] == 1 and receipt["units"] == 5 and receipt["registryVersion"] == 1
    assert receipt["balanceBefore"]["total"] == 400 and receipt["balanceAfter"]["total"] == 395
    assert (receipt["included"], receipt["purchased"], receipt["hold"]) == (5, 0, "h-1")
    assert svc.state("u", tail=0).available == 395 and svc.state("u", tail=0).holds == ()
    svc.hold("u", "document_extract", "h-2")  # 2 credits × 3 sections
    assert svc.state("u", tail=0).available == 389
    released = svc.release("u", "h-2", "tool failed")
    assert (released.row.kind, released.available) == ("release", 395)
    assert_consistent(store, "u")


def test_replays_are_the_first_answer_and_conflicts_name_the_callers_field(store):
    svc = service_on(store)
    first = svc.hold("u", "ask_ai_deep", "h-1", 6)
    assert svc.hold("u", "ask_ai_deep", "h-1", 6).to_dict() == {**first.to_dict(), "replayed": True}
    assert svc.hold("u", "ask_ai_deep", "h-1").replayed  # units omitted: the first hold
    assert code_of(lambda: svc.hold("u", "ask_ai_deep", "h-1", 7)) == "idempotency_conflict"
    assert code_of(lambda: svc.hold("u", "document_extract", "h-1", 6)) == "idempotency_conflict"
    assert code_of(lambda: svc.hold("v", "ask_ai_deep", "h-1", 6)) == "idempotency_conflict"
    assert code_of(lambda: svc.settle("v", "h-1", 2)) == "idempotency_conflict"
    settled = svc.settle("u", "h-1", 2)
    assert svc.settle("u", "h-1", 2).to_dict() == {**settled.to_dict(), "replayed": True}
    with pytest.raises(CreditsError) as caught:
        svc.settle("u", "h-1", 3)
    assert (caught.value.code, caught.value.details) == ("idempotency_conflict", {"field": "units"})
    assert code_of(lambda: svc.release("u", "h-1")) == "hold_closed"
    assert code_of(lambda: svc.settle("u", "never", 1)) == "not_found"
    assert svc.state("u", tail=0).balance.total == 398


def test_the_async_verbs_make_the_same_decisions(store):
    """``hold_async`` / ``settle_async`` / ``release_async`` (the HTTP routes' path) on every store."""
    svc = service_on(store)

    async def flow():
        held = await svc.hold_async("u", "ask_ai_deep", "a-1")
        settled = await svc.settle_async("u", "a-1", 5)
        await svc.hold_async("u", "document_extract", "a-2")
        released = await svc.release_async("u", "a-2", "tool failed")
        refused = await svc.settle_async("u", "a-2", 1), None
        return held, settled, released, refused

    with pytest.raises(CreditsError) as caught:
        asyncio.run(flow())
    assert caught.value.code == "hold_closed"  # the settle after the release
    assert svc.settle("u", "a-1", 5).replayed and svc.release("u", "a-2").replayed
    receipt = svc.settle("u", "a-1", 5).to_dict()["receipt"]
    assert (receipt["reserved"], receipt["charged"], receipt["released"]) == (8, 5, 3)
    state = svc.state("u", tail=0)
    assert (state.balance.total, state.available, state.holds) == (395, 395, ())
    assert_consistent(store, "u")


def test_a_hold_never_takes_available_below_zero(store):
    svc = service_on(store)
    svc.hold("u", "ask_ai_deep", "most", 395)
    with pytest.raises(CreditsError) as caught:
        svc.hold("u", "ask_ai_deep", "more", 6)
    assert caught.value.code == "insufficient_credits"
    assert (caught.value.details["required"], caught.value.details["available"]) == (6, 5)
    assert code_of(lambda: svc.debit("u", "valuation_model", "d-1")) == "insufficient_credits"  # 8 > 5 available
    warn = service_on(store, enforce=False)
    short = warn.hold("u", "ask_ai_deep", "warn", 7)
    assert short.row.meta["held"] == 5 and short.row.meta["shortfall"] == 2 and short.warning
    assert warn.state("u", tail=0).available == 0


def test_a_settle_above_the_hold_charges_at_most_what_is_available(store):
    svc = service_on(store)
    svc.hold("u", "ask_ai_deep", "other", 390)
    svc.hold("u", "ask_ai_deep", "mine", 5)  # 5 left outside both holds
    settled = svc.settle("u", "mine", 20)  # cost 20: the hold (5) + the 5 outside every other hold
    assert -settled.row.delta == 10 and settled.row.meta["shortfall"] == 10 and settled.warning
    assert svc.state("u", tail=0).available == 0  # the other hold is intact
    assert svc.settle("u", "other", 390).row.delta == -390
    assert svc.state("u", tail=0).balance.total == 0
    assert_consistent(store, "u")


def test_an_expired_hold_is_released_by_itself(store):
    clock = FixedClock(AT)
    svc = service_on(store, clock=clock)
    svc.hold("u", "ask_ai_deep", "late")
    clock.tick(minutes=15)
    state = svc.state("u", tail=0)
    assert (state.available, state.holds) == (400, ())
    release = store.find("CZ_SMCR|release|late")
    assert release is not None and release.meta["reason"] == "expired"
    with pytest.raises(CreditsError) as caught:
        svc.settle("u", "late", 5)
    assert caught.value.code == "hold_expired" and caught.value.http_status == 409
    assert svc.release("u", "late").row == release  # releasing it again answers that release
    assert_consistent(store, "u")


def test_expiry_rows_are_written_by_the_next_write(store):
    clock = FixedClock(AT)
    svc = service_on(store, clock=clock)
    for i in range(3):
        svc.hold("u", "ask_ai_deep", f"gone-{i}")
    clock.tick(minutes=16)
    svc.debit("u", "ask_ai", "d-1")
    assert all(store.find(f"CZ_SMCR|release|gone-{i}") is not None for i in range(3))
    assert store.account("u").holds == ()


def test_concurrent_holds_never_over_commit(store):
    svc = service_on(store)
    svc.state("u", tail=0)  # 400 credits: 10 holds of 40 fit, 20 are tried
    ok, refused = [], []

    def one(i: int) -> None:
        try:
            ok.append(svc.hold("u", "ask_ai_deep", f"c-{i}", 40))
        except CreditsError as exc:
            refused.append(exc.code)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ok) == 10 and set(refused) == {"insufficient_credits"}
    acc = assert_consistent(store, "u")
    assert acc.held == 400 and acc.balance.total - acc.held == 0
