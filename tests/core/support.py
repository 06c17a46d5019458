"""Helpers shared by the credits_core tests (no fixtures here)."""

from __future__ import annotations

from credits_core.models import Account, Row
from credits_core.stores.base import LedgerStore, RowFilter


def user_rows(store: LedgerStore, user_id: str) -> list[Row]:
    """Every row of ``user_id``, oldest first."""
    return list(reversed(store.rows(RowFilter(user_id=user_id))))


def assert_consistent(store: LedgerStore, user_id: str) -> Account:
    """The stored account equals the one derived from the rows, and is never negative."""
    rows = user_rows(store, user_id)
    acc = store.account(user_id)
    derived = Account(user_id).with_rows(rows)
    assert acc == derived, f"stored {acc} != derived {derived}"
    assert acc.balance.included == sum(r.included_delta for r in rows)
    assert acc.balance.purchased == sum(r.purchased_delta for r in rows)
    assert acc.balance.total == sum(r.delta for r in rows)
    assert acc.balance.included >= 0 and acc.balance.purchased >= 0
    return acc


def kinds(rows: list[Row]) -> list[str]:
    return [r.kind for r in rows]
