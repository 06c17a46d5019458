"""Streaming rows and daily bucket totals: the same answers on every store (memory, SQLite, Odoo)."""

from __future__ import annotations

from collections import defaultdict

from credits_core.stores import LedgerStore, RowFilter
from tests.core.stores.test_contract import history  # noqa: F401  (the shared fixture)


def test_iter_rows_streams_every_row_in_ledger_order(history: LedgerStore):  # noqa: F811
    newest_first = history.rows()
    assert [r for r in history.iter_rows()] == list(reversed(newest_first))
    bob = [r.name for r in history.iter_rows(RowFilter(user_id="bob"))]
    assert bob == [r.name for r in reversed(history.rows(RowFilter(user_id="bob")))]


def test_daily_buckets_sum_the_rows_of_each_day(history: LedgerStore):  # noqa: F811
    expected: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in history.rows():
        cell = expected[r.created_at.strftime("%Y-%m-%d")]
        cell[0] += r.included_delta
        cell[1] += r.purchased_delta
        cell[2 if r.delta > 0 else 3] += r.delta
    got = {b.day: [b.included, b.purchased, b.credits_in, b.credits_out] for b in history.daily_buckets()}
    assert got == dict(expected)
    only_bob = history.daily_buckets(RowFilter(user_id="bob"))
    assert sum(b.included + b.purchased for b in only_bob) == history.account("bob").balance.total
