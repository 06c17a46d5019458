"""The service end to end on both stores: shapes of answers, rollover on touch, ops queries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from credits_core import CreditsService
from credits_core.models import Balance
from credits_core.stores import LedgerStore, RowFilter
from tests.core.support import assert_consistent, kinds, user_rows
from tests.ledgers import Ledger


@pytest.fixture(params=["memory", "sqlite"])
def ledger(request, make_ledger) -> Ledger:
    return make_ledger(request.param)


@pytest.fixture
def svc(ledger: Ledger) -> CreditsService:
    return ledger.service


@pytest.fixture
def store(ledger: Ledger) -> LedgerStore:
    """The store ``svc`` was built on."""
    return ledger.store


def test_state_of_a_new_user(svc):
    state = svc.state("u")
    assert state.to_dict() == {
        "userId": "u",
        "plan": "base",
        "balance": {"total": 100, "included": 100, "purchased": 0},
        "monthlyIncluded": 100,
        "softCap": 300,
        "enforce": False,
        "month": "2026-01",
        "registryVersion": 1,
        "available": 100,
        "held": 0,
        "holds": [],
        "ledgerTail": [state.ledger_tail[0].to_dict()],
    }
    grant = state.ledger_tail[0].to_dict()
    assert grant["name"] == "CZ_SMCR|grant|u|2026-01" and grant["createdAt"] == "2026-01-15T12:00:00Z"
    assert grant["bucket"] == "included"


def test_reading_state_again_writes_nothing(svc, store, clock):
    svc.state("u")
    clock.tick(days=10)
    svc.state("u")
    assert kinds(user_rows(store, "u")) == ["grant"]


def test_catch_up_on_the_first_touch_after_several_months(svc, clock):
    svc.state("u")
    svc.debit("u", "comps_report", "k1")  # 97
    clock.at = datetime(2026, 6, 10, tzinfo=UTC)
    state = svc.state("u", tail=10)
    assert state.balance == Balance(300, 0)
    grants = [r for r in state.ledger_tail if r.kind == "grant"]
    assert [(r.meta["month"], r.delta) for r in reversed(grants)] == [
        ("2026-01", 100),
        ("2026-02", 100),
        ("2026-03", 100),
        ("2026-04", 3),
        ("2026-05", 0),
        ("2026-06", 0),
    ]
    assert state.month == "2026-06"


def test_a_debit_in_a_new_month_grants_first_in_the_same_transaction(svc, store, clock):
    svc.state("u")
    svc.adjust("u", "drain", -100, "included", "empty")
    clock.at = datetime(2026, 2, 1, tzinfo=UTC)
    svc.enforce = True
    res = svc.debit("u", "comps_report", "k1")
    assert res.balance == Balance(97, 0)
    assert kinds(user_rows(store, "u"))[-2:] == ["grant", "debit"]


def test_included_is_spent_before_purchased_over_a_month(svc, store):
    svc.top_up("u", "pack_100", "cs_1")
    for i in range(34):
        svc.debit("u", "comps_report", f"k{i}")  # 102 credits: 100 included then 2 purchased
    assert svc.state("u").balance == Balance(0, 98)
    mixed = store.find("CZ_SMCR|debit|k33")
    assert (mixed.included_delta, mixed.purchased_delta, mixed.bucket) == (-1, -2, "mixed")


def test_ledger_tail_is_newest_first_and_clamped(svc):
    for i in range(5):
        svc.debit("u", "ask_ai", f"k{i}")
    assert [r.name for r in svc.ledger_tail("u", 2)] == ["CZ_SMCR|debit|k4", "CZ_SMCR|debit|k3"]
    assert len(svc.state("u", tail=3).ledger_tail) == 3
    assert svc.state("u", tail=0).ledger_tail == ()


def test_answer_shapes(svc):
    debit = svc.debit("u", "ask_ai", "k1").to_dict()
    assert set(debit) == {"row", "balance", "replayed"}
    assert debit["balance"] == {"total": 99, "included": 99, "purchased": 0}
    assert debit["row"]["meta"]["balanceAfter"] == debit["balance"]
    assert set(svc.refund("k1").to_dict()) == {"row", "balance", "replayed"}
    topup = svc.top_up("u", "pack_100", "cs_1").to_dict()
    assert topup["row"]["bucket"] == "purchased" and topup["balance"]["purchased"] == 100
    plan = svc.change_plan("u", "intelligence", dry_run=True).to_dict()
    assert set(plan) == {
        "previousPlan",
        "plan",
        "granted",
        "trimmed",
        "balance",
        "softCap",
        "monthlyIncluded",
        "dryRun",
        "replayed",
        "rows",
    }
    assert plan["dryRun"] is True and plan["granted"] == 300


def test_matrix_and_top_up_path(svc):
    assert svc.matrix()["version"] == 1
    path = svc.top_up_path()
    assert path["accountUrl"] == "/account#credits"
    assert [p["id"] for p in path["packs"]] == ["pack_100", "pack_500", "pack_2000"]


def test_ops_frames(svc, store):
    svc.top_up("alice", "pack_500", "cs_1")
    svc.change_plan("alice", "intelligence")
    svc.debit("alice", "valuation_model", "a1")
    svc.debit("alice", "ask_ai", "a2")
    svc.debit("bob", "ask_ai", "b1")
    daily = svc.daily_totals()
    assert list(daily.columns) == ["day", "kind", "credits", "rows"]
    debits = daily[daily["kind"] == "debit"]
    assert int(debits["credits"].sum()) == -10 and int(debits["rows"].sum()) == 3
    top = svc.top_tools()
    assert list(top["tool"]) == ["valuation_model", "ask_ai"] and list(top["credits"]) == [8, 2]
    assert top.iloc[0]["label"] == "Valuation model"
    balances = svc.balances().set_index("userId")
    assert balances.loc["alice", "plan"] == "intelligence" and balances.loc["alice", "total"] == 891
    assert balances.loc["bob", "plan"] == "base" and balances.loc["bob", "total"] == 99
    rows = svc.rows(RowFilter(user_id="bob"))
    assert list(rows["kind"]) == ["debit", "grant"] and rows.iloc[0]["tool"] == "ask_ai"
    for user in ("alice", "bob"):
        assert_consistent(store, user)
