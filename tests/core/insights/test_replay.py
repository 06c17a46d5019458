"""Replay: the unchanged price list reproduces history; a planted change moves it by hand-computed amounts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from credits_core import CreditsService, FixedClock, MemoryStore, SqliteStore, load_default_registry, parse_registry
from credits_core.insights import last_full_month
from credits_core.models import Balance
from credits_core.registry import MemoryRegistryRepository, apply_patch
from credits_core.seed import seed_demo

END = datetime(2026, 11, 20, 12, tzinfo=UTC)  # fixed: never today's date
NOV = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


def _patched(patch: dict):
    return parse_registry(apply_patch(load_default_registry().to_json(), patch))


def _seeded(store, *, enforce: bool, users: int) -> CreditsService:
    service = CreditsService(store, MemoryRegistryRepository(), enforce=enforce, clock=FixedClock(END))
    seed_demo(service, users=users, months=4, seed=7, end=END)
    # Rows the seed does not write: ops adjustments, a downgrade trim, a top-up in the window.
    service.clock = FixedClock(datetime(2026, 11, 5, 9, tzinfo=UTC))
    service.adjust("user_0001", "fix-1", 7, "purchased", "goodwill")
    service.top_up("user_0002", "pack_500", "cs_replay_test")
    service.change_plan("user_0003", "professional", request_id="up-1")
    service.clock = FixedClock(datetime(2026, 11, 9, 9, tzinfo=UTC))
    service.change_plan("user_0003", "base", request_id="down-1")
    service.clock = FixedClock(END)
    return service


@pytest.mark.parametrize(
    ("kind", "enforce", "users"), [("memory", False, 40), ("sqlite", True, 12)], ids=["memory-warn-only", "sqlite-enforce"]
)
def test_unchanged_price_list_reproduces_every_end_balance(tmp_path: Path, kind: str, enforce: bool, users: int) -> None:
    store = MemoryStore() if kind == "memory" else SqliteStore(tmp_path / "ledger.sqlite3")
    service = _seeded(store, enforce=enforce, users=users)
    kinds = {r.kind for r in store.rows()}
    assert {"grant", "debit", "refund", "plan", "upgrade", "trim", "adjust", "topup"} <= kinds
    assert any(r.meta.get("shortfall") for r in store.rows()) != enforce  # warn-only rows exist without enforcement
    seen = []
    report = service.replay(NOV, progress=lambda done, total: seen.append((done, total)))
    assert len(report.users) == users
    for u in report.users:
        assert u.candidate.end == u.actual.end == store.account(u.user_id).balance, u.user_id
        assert u.candidate.subscription == u.actual.subscription
        assert u.candidate.top_ups == u.actual.top_ups
        assert u.candidate.trimmed == u.actual.trimmed
        assert u.candidate.run_out == u.actual.run_out
    assert seen and seen[-1][0] == report.rows
    whole = service.replay((datetime(2020, 1, 1, tzinfo=UTC), NOV[1]))
    assert all(u.matches for u in whole.users)
    # A server whose starter plan is now "none" still reproduces history written under Base.
    paid = CreditsService(store, service.registries, clock=FixedClock(END), starter_plan="none")
    assert all(u.matches for u in paid.replay(NOV).users)
    trimmed = next(u for u in report.users if u.user_id == "user_0003")
    assert trimmed.actual.trimmed > 0


def _hand_ledger() -> CreditsService:
    store = MemoryStore()
    service = CreditsService(store, MemoryRegistryRepository(), enforce=False, clock=FixedClock(NOV[0]))
    at = lambda day: FixedClock(datetime(2026, 11, day, 10, tzinfo=UTC))  # noqa: E731
    service.clock = at(2)
    for i in range(10):
        service.debit("u", "ask_ai", f"u-{i}")
    service.clock = at(3)
    service.top_up("u", "pack_100", "cs_hand_u")
    service.clock = at(10)
    for i in range(30):
        service.debit("v", "ask_ai", f"v-{i}")
    service.clock = FixedClock(datetime(2026, 12, 2, tzinfo=UTC))
    return service


def test_a_planted_price_change_moves_the_figures_by_hand() -> None:
    service = _hand_ledger()
    candidate = _patched(
        {
            "tools": [{"id": "ask_ai", "credits": 3}],
            "plans": [{"id": "base", "monthlyIncluded": 60}],
            "packs": [{"id": "pack_100", "credits": 150, "price": 2000}],
        },
    )
    report = service.replay(NOV, candidate)
    u = next(x for x in report.users if x.user_id == "u")
    v = next(x for x in report.users if x.user_id == "v")
    # u: actual grant 100 − 10 asks + 100 bought = 90 + 100; candidate grant 60 − 10×3 + 150 = 30 + 150.
    assert u.actual.end == Balance(90, 100) and u.candidate.end == Balance(30, 150)
    assert (u.actual.charged, u.candidate.charged) == (10, 30)
    assert (u.actual.top_ups, u.candidate.top_ups) == (1500, 2000)
    assert u.actual.subscription == u.candidate.subscription == 4900
    # v: 30 asks. Actual 30 of 100. Candidate: 20 asks use the 60 credits, 10 asks (30 credits) are not covered
    # on 10 November; the cheapest cover of 30 credits is one 150-credit pack at $20.
    assert v.actual.end == Balance(70, 0) and v.candidate.end == Balance(0, 0)
    assert (v.candidate.shortfall, v.candidate.run_out, v.candidate.cover) == (30, date(2026, 11, 10), 2000)
    assert (v.actual.shortfall, v.actual.run_out, v.actual.cover) == (0, None, 0)
    overall = report.summary_records(["base"])[-1]
    assert overall["actualTopUps"] == 1500 and overall["candidateTopUps"] == 2000
    assert overall["actualRunOutUsers"] == 0 and overall["candidateRunOutUsers"] == 1
    # Effective price per user-month: (2×4900 + 1500) / 2 vs (2×4900 + 2000 + 2000) / 2.
    assert overall["actualEffectivePerUserMonth"] == 5650 and overall["candidateEffectivePerUserMonth"] == 6900


def test_a_gate_moved_up_blocks_uses_and_a_window_must_be_ordered() -> None:
    service = _hand_ledger()
    service.clock = FixedClock(datetime(2026, 11, 4, 10, tzinfo=UTC))
    service.refund("u-0", "provider failure")  # refunds a use the candidate blocks: nothing to return
    candidate = _patched({"tools": [{"id": "ask_ai", "minPlan": "intelligence"}]})
    report = service.replay(NOV, candidate)
    assert {u.user_id: u.candidate.blocked for u in report.users} == {"u": 10, "v": 30}
    u = next(x for x in report.users if x.user_id == "u")
    assert u.actual.end == Balance(91, 100) and u.candidate.end == Balance(100, 100)
    with pytest.raises(Exception, match="window"):
        service.replay((NOV[1], NOV[0]))


def test_default_window_is_the_last_full_month() -> None:
    assert last_full_month(datetime(2027, 3, 1, 0, 0, 30, tzinfo=UTC)) == (
        datetime(2027, 2, 1, tzinfo=UTC),
        datetime(2027, 3, 1, tzinfo=UTC),
    )
    assert last_full_month(datetime(2026, 12, 31, 23, 59, tzinfo=UTC))[0] == datetime(2026, 11, 1, tzinfo=UTC)
