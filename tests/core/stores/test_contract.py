"""The one contract every ledger store keeps (``stores/base.py``), run on every store.

Stores come from the ``store_factory`` fixture of ``conftest.py``; a new store
joins by adding a factory there.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from credits_core.errors import InsufficientCredits, StateConflict
from credits_core.models import Account, Balance, Row
from credits_core.stores import DailyTotal, LedgerStore, RowFilter, SqliteStore, ToolUsage
from credits_core.stores.base import Decision
from tests.core.support import assert_consistent

DAY1 = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY1 + timedelta(days=2)


def grant(user: str, month: str = "2026-03", amount: int = 100, at: datetime = DAY1) -> Row:
    return Row(
        f"CZ_SMCR|grant|{user}|{month}",
        user,
        "grant",
        amount,
        amount,
        at,
        {"month": month, "plan": "base", "peak": 100},
    )


def debit(key: str, user: str, tool: str, cost: int, at: datetime = DAY1, from_included: int | None = None) -> Row:
    inc = cost if from_included is None else from_included
    return Row(f"CZ_SMCR|debit|{key}", user, "debit", -cost, -inc, at, {"tool": tool, "cost": cost})


def topup(ref: str, user: str, credits: int, at: datetime = DAY1) -> Row:
    return Row(f"CZ_SMCR|topup|{ref}", user, "topup", credits, 0, at, {"pack": "p", "credits": credits})


def append(store: LedgerStore, user: str, *rows: Row) -> None:
    store.transact(user, lambda acc, lookup: Decision(list(rows), None))


@pytest.fixture
def history(store: LedgerStore) -> LedgerStore:
    """Two users over three days with grants, top-ups, debits of several tools and a refund."""
    append(store, "alice", grant("alice"), topup("cs_a", "alice", 500))
    append(store, "alice", debit("a1", "alice", "ask_ai", 1))
    append(store, "alice", debit("a2", "alice", "comps_report", 3, DAY2))
    append(store, "alice", debit("a3", "alice", "comps_report", 3, DAY2))
    append(store, "bob", grant("bob", at=DAY2), debit("b1", "bob", "valuation_model", 8, DAY2))
    append(store, "bob", debit("b2", "bob", "ask_ai", 1, DAY3))
    append(store, "bob", debit("b3", "bob", "ask_ai", 1, DAY3))
    append(store, "alice", Row("CZ_SMCR|refund|a1", "alice", "refund", 1, 1, DAY3, {"tool": "ask_ai"}))
    return store


# -- empty store ------------------------------------------------------------------


def test_an_empty_store_answers_empty(store):
    assert store.account("nobody") == Account("nobody")
    assert store.find("CZ_SMCR|debit|x") is None
    assert store.tail("nobody", 20) == []
    assert store.rows() == []
    assert store.accounts() == []
    assert store.daily_totals() == []
    assert store.top_tools() == []


# -- transact ---------------------------------------------------------------------


def test_transact_appends_rows_and_the_derived_account_atomically(store):
    rows = [grant("u"), topup("cs_1", "u", 500), debit("k1", "u", "ask_ai", 1)]
    result = store.transact("u", lambda acc, lookup: Decision(rows, "done"))
    assert result == "done"
    acc = assert_consistent(store, "u")
    assert acc == Account("u").with_rows(rows)
    assert (acc.balance, acc.month, acc.rows) == (Balance(99, 500), "2026-03", 3)


def test_decide_sees_the_current_account_and_finds_rows(store):
    append(store, "u", grant("u"))
    seen = {}

    def decide(acc, lookup):
        seen["acc"] = acc
        seen["grant"] = lookup("CZ_SMCR|grant|u|2026-03")
        seen["missing"] = lookup("CZ_SMCR|grant|u|2026-04")
        return Decision([], None)

    store.transact("u", decide)
    assert seen["acc"] == store.account("u") and seen["acc"].balance == Balance(100, 0)
    assert seen["grant"] == grant("u")
    assert seen["missing"] is None


def test_a_decision_without_rows_writes_nothing(store):
    assert store.transact("new", lambda acc, lookup: Decision([], acc)) == Account("new")
    assert store.accounts() == [] and store.rows() == []


@pytest.mark.parametrize("error", [InsufficientCredits("no"), ValueError("boom"), KeyboardInterrupt()])
def test_decide_raising_writes_nothing(store, error):
    append(store, "u", grant("u"))
    before = (store.rows(), store.account("u"), store.accounts())
    calls = []

    def decide(acc, lookup):
        calls.append(acc)
        raise error

    with pytest.raises(type(error)):
        store.transact("u", decide)
    assert (store.rows(), store.account("u"), store.accounts()) == before
    assert len(calls) == 1
    append(store, "u", debit("after", "u", "ask_ai", 1))  # the store is still usable
    assert store.account("u").balance == Balance(99, 0)


def test_a_row_name_is_never_stored_twice(store):
    append(store, "u", grant("u"))
    before = store.rows()
    with pytest.raises(StateConflict):
        append(store, "u", debit("new", "u", "ask_ai", 1), grant("u"))  # second row exists already
    with pytest.raises(StateConflict):
        append(store, "v", grant("u"))  # another user, same name
    assert store.rows() == before and store.account("v") == Account("v")
    assert store.account("u").balance == Balance(100, 0)


def test_a_decision_with_two_rows_of_one_name_writes_nothing(store):
    with pytest.raises(ValueError):
        append(store, "u", grant("u"), grant("u"))
    assert store.rows() == []


def test_concurrent_transacts_never_both_spend_the_same_balance(store):
    append(store, "u", grant("u", amount=60))
    counter = iter(range(10_000))
    lock = threading.Lock()
    errors: list[BaseException] = []

    def spend(acc, lookup):
        if acc.balance.total < 1:
            raise InsufficientCredits("empty")
        with lock:
            n = next(counter)
        return Decision([debit(f"t{n}", "u", "ask_ai", 1)], None)

    def worker():
        for _ in range(12):
            try:
                store.transact("u", spend)
            except InsufficientCredits:
                pass
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    acc = assert_consistent(store, "u")
    assert acc.balance == Balance(0, 0)
    assert len(store.rows(RowFilter(kinds=("debit",)))) == 60


# -- reads ------------------------------------------------------------------------


def test_find_round_trips_every_field(store):
    row = Row(
        "CZ_SMCR|debit|rt",
        "u",
        "debit",
        -8,
        -2,
        DAY1,
        {"tool": "valuation_model", "cost": 8, "nested": {"a": [1, "x"]}, "unicode": "déjà"},
    )
    append(store, "u", grant("u"), topup("cs", "u", 10), row)
    got = store.find("CZ_SMCR|debit|rt")
    assert got == row
    assert got.created_at.tzinfo is not None and got.created_at.utcoffset() == timedelta(0)
    assert got.purchased_delta == -6 and got.bucket == "mixed"


def test_tail_is_newest_first_and_limited(history):
    names = [r.name for r in history.tail("alice", 3)]
    assert names == ["CZ_SMCR|refund|a1", "CZ_SMCR|debit|a3", "CZ_SMCR|debit|a2"]
    assert len(history.tail("alice", 500)) == 6
    assert history.tail("alice", 0) == []
    assert all(r.user_id == "bob" for r in history.tail("bob", 10))
    assert history.tail("carol", 5) == []


def test_rows_filters(history):
    assert len(history.rows()) == 10
    assert [r.name for r in history.rows(limit=2)] == ["CZ_SMCR|refund|a1", "CZ_SMCR|debit|b3"]
    assert {r.user_id for r in history.rows(RowFilter(user_id="bob"))} == {"bob"}
    assert len(history.rows(RowFilter(user_id="bob"))) == 4
    assert {r.kind for r in history.rows(RowFilter(kinds=("grant", "topup")))} == {"grant", "topup"}
    assert len(history.rows(RowFilter(kinds=("grant", "topup")))) == 3
    since = history.rows(RowFilter(since=DAY2))  # inclusive
    assert {r.created_at for r in since} == {DAY2, DAY3} and len(since) == 7
    until = history.rows(RowFilter(until=DAY2))  # exclusive
    assert {r.created_at for r in until} == {DAY1} and len(until) == 3
    both = history.rows(RowFilter(user_id="alice", kinds=("debit",), since=DAY2, until=DAY3))
    assert [r.name for r in both] == ["CZ_SMCR|debit|a3", "CZ_SMCR|debit|a2"]
    assert history.rows(RowFilter(user_id="carol")) == []


def test_daily_totals(history):
    totals = history.daily_totals()
    assert totals == [
        DailyTotal("2026-03-01", "debit", -1, 1),
        DailyTotal("2026-03-01", "grant", 100, 1),
        DailyTotal("2026-03-01", "topup", 500, 1),
        DailyTotal("2026-03-02", "debit", -14, 3),
        DailyTotal("2026-03-02", "grant", 100, 1),
        DailyTotal("2026-03-03", "debit", -2, 2),
        DailyTotal("2026-03-03", "refund", 1, 1),
    ]
    assert history.daily_totals(RowFilter(user_id="bob", kinds=("debit",))) == [
        DailyTotal("2026-03-02", "debit", -8, 1),
        DailyTotal("2026-03-03", "debit", -2, 2),
    ]


def test_top_tools(history):
    assert history.top_tools() == [
        ToolUsage("valuation_model", 8, 1),
        ToolUsage("comps_report", 6, 2),
        ToolUsage("ask_ai", 3, 3),
    ]
    assert history.top_tools(limit=1) == [ToolUsage("valuation_model", 8, 1)]
    assert history.top_tools(RowFilter(user_id="bob")) == [
        ToolUsage("valuation_model", 8, 1),
        ToolUsage("ask_ai", 2, 2),
    ]
    assert history.top_tools(RowFilter(since=DAY3)) == [ToolUsage("ask_ai", 2, 2)]
    # kinds in the filter are ignored: only debits count
    assert history.top_tools(RowFilter(kinds=("refund",))) == history.top_tools()


def test_accounts_lists_every_user_with_derived_state(history):
    accounts = sorted(history.accounts(), key=lambda a: a.user_id)
    assert [a.user_id for a in accounts] == ["alice", "bob"]
    assert accounts[0] == assert_consistent(history, "alice")
    assert accounts[1] == assert_consistent(history, "bob")
    assert (accounts[0].balance, accounts[1].balance) == (Balance(94, 500), Balance(90, 0))


def test_account_is_one_cheap_read(store):
    append(store, "u", grant("u"))
    for i in range(300):
        append(store, "u", topup(f"cs_{i}", "u", 1))
    if isinstance(store, SqliteStore):
        statements: list[str] = []
        conn = store._conn()
        conn.set_trace_callback(statements.append)
        try:
            acc = store.account("u")
        finally:
            conn.set_trace_callback(None)
        assert len(statements) == 1 and " ledger" not in statements[0] and "accounts" in statements[0]
        plan = " ".join(str(r) for r in conn.execute(f"EXPLAIN QUERY PLAN {statements[0]}"))
        assert "SCAN" not in plan, plan
    else:
        acc = store.account("u")
    assert acc.balance == Balance(100, 300) and acc.rows == 301


def test_a_balance_never_goes_below_zero(store):
    append(store, "u", grant("u", amount=5), topup("cs", "u", 5))
    before = store.rows()
    with pytest.raises(StateConflict) as info:
        append(store, "u", debit("k1", "u", "ask_ai", 6))  # included would be -1
    assert "below zero" in info.value.message
    with pytest.raises(StateConflict):
        append(store, "u", debit("k2", "u", "ask_ai", 6, from_included=0))  # purchased would be -1
    assert store.rows() == before and store.account("u").balance == Balance(5, 5)


# -- several writers (issue 12): answers from the ledger's order, credits never refused ----------


def twin(store: LedgerStore) -> LedgerStore:
    """Another instance on the same ledger (another process's view of it)."""
    if isinstance(store, SqliteStore):
        return SqliteStore(store.path)
    from credits_core.stores.odoo import OdooStore
    from tests.odoo.support import DB, KEY, LOGIN

    if isinstance(store, OdooStore):
        return OdooStore(store._client.url, DB, LOGIN, KEY, protocol=store.protocol)
    return store  # memory: one instance is the whole ledger


def pending_overdraft(store: LedgerStore, row: Row) -> None:
    """Another writer's row that overdraws, committed and not yet withdrawn (only Odoo has such a state:
    the other stores serialise their transactions, so there it is never written)."""
    fake = getattr(store, "fake", None)
    if fake is not None:
        from credits_core.stores.odoo.rows import to_vals

        fake.insert(to_vals(row, "another-writer"))


def charge(key: str, cost: int):
    """A debit decision sized on the account it is given (included first), answering its balance after."""

    def decide(acc: Account, lookup):
        inc = min(cost, acc.balance.included)
        after = Balance(acc.balance.included - inc, acc.balance.purchased - (cost - inc))
        meta = {"tool": "ask_ai", "cost": cost, "balanceAfter": after.to_dict()}
        return Decision([Row(f"CZ_SMCR|debit|{key}", acc.user_id, "debit", -cost, -inc, DAY1, meta)], after)

    return decide


def test_replays_answer_the_ledgers_exact_balance_and_split(store):
    append(store, "u", grant("u"), topup("cs", "u", 50))
    other = twin(store)
    try:
        assert store.account("u").balance == Balance(100, 50)  # this instance may now hold a copy
        append(other, "u", debit("other", "u", "ask_ai", 90))  # another writer: 10 included left
        first = store.transact("u", charge("k1", 5))
        append(other, "u", debit("other2", "u", "ask_ai", 2))  # 3 included left
        second = store.transact("u", charge("k2", 8))
        found = [other.find("CZ_SMCR|debit|k1"), other.find("CZ_SMCR|debit|k2")]
    finally:
        if other is not store:
            other.close()
    assert (first, second) == (Balance(5, 50), Balance(0, 45)) and second == store.account("u").balance
    assert [(r.included_delta, r.purchased_delta) for r in found] == [(-5, 0), (-3, -5)]
    assert [r.meta["balanceAfter"] for r in found] == [first.to_dict(), second.to_dict()]


def test_a_credit_row_is_never_refused_for_another_writers_pending_overdraft(store):
    append(store, "u", grant("u", amount=1))
    pending_overdraft(store, debit("overdraws", "u", "comps_report", 3))
    append(store, "u", topup("cs", "u", 100))
    append(store, "u", Row("CZ_SMCR|refund|x", "u", "refund", 2, 2, DAY1, {"tool": "ask_ai"}))
    assert store.account("u").balance == Balance(3, 100)
    assert store.find("CZ_SMCR|debit|overdraws") is None
