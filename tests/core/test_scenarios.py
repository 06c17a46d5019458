"""DEMO scenarios through the service's verbs, and links that rebuild them (every parameter validated)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from credits_core import CreditsService, FixedClock, MemoryStore, OffsetClock
from credits_core.errors import BadRequest, InsufficientCredits
from credits_core.registry import MemoryRegistryRepository
from credits_core.scenarios import SCENARIOS, apply, current_state, decode, encode, rebuild

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def demo() -> CreditsService:
    return CreditsService(MemoryStore(), MemoryRegistryRepository(), enforce=False, clock=OffsetClock(FixedClock(NOW)))


def test_each_scenario_reaches_its_state() -> None:
    got = {sid: apply(demo(), "d", sid) for sid in SCENARIOS}
    assert (got["empty"].state.included, got["empty"].state.purchased) == (0, 0)
    assert got["one_left"].state.included == 1 and got["one_left"].state.enforce
    assert got["soft_cap"].state.included == 300
    assert got["downgrade_trim"].state.plan == "base" and got["downgrade_trim"].state.included == 300
    assert "trimmed 4,200" in got["downgrade_trim"].note
    assert got["payment_fails"].fail_next_payment
    assert got["webhook_twice"].state.purchased == 100 and "replayed=true" in got["webhook_twice"].note
    assert all(a.state.month == "2026-11" for a in got.values())


def test_one_left_blocks_the_second_question() -> None:
    service = demo()
    apply(service, "d", "one_left")
    service.debit("d", "ask_ai", "q1")
    with pytest.raises(InsufficientCredits):
        service.debit("d", "ask_ai", "q2")


def test_last_minute_then_next_month_grants() -> None:
    service = demo()
    apply(service, "d", "last_minute", month="2026-12")
    assert service.now() == datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    service.clock.advance_month()
    assert service.state("d", tail=0).month == "2027-01"


def test_a_link_rebuilds_plan_buckets_month_and_enforcement() -> None:
    first = demo()
    applied = apply(first, "d", "soft_cap", plan="intelligence", month="2027-02")
    first.debit("d", "ask_ai", "q1")
    state = current_state(first, "d", applied.state.scenario)
    params = {k: [v] for k, v in encode(state).items()}
    fresh = demo()
    again = rebuild(fresh, "other", decode(params, fresh))
    assert again.state == state
    assert (state.plan, state.included, state.month) == ("intelligence", 1199, "2027-02")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"plan": ["gold"]}, "unknown plan"),
        ({"included": ["301"]}, "included must be"),
        ({"included": ["-1"]}, "included must be"),
        ({"purchased": ["1e9"]}, "purchased must be"),
        ({"month": ["2026-13"]}, "month must be"),
        ({"enforce": ["yes"]}, "enforce must be"),
        ({"scenario": ["boom"]}, "unknown scenario"),
        ({"v": ["9"]}, "version"),
        ({"extra": ["1"]}, "unknown parameter"),
        ({"plan": ["base", "base"]}, "more than once"),
    ],
)
def test_a_bad_link_is_refused_with_the_reason(change: dict, problem: str) -> None:
    params = {"v": ["1"], "scenario": ["empty"], "plan": ["base"], "included": ["0"], "purchased": ["0"],
              "month": ["2026-11"], "enforce": ["1"]} | change
    with pytest.raises(BadRequest, match=problem):
        decode(params, demo())
    missing = dict(params)
    missing.pop("month")
    with pytest.raises(BadRequest, match="missing"):
        decode(missing, demo())
