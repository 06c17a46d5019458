"""In-memory store: DEMO mode (one per Streamlit session) and tests."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC
from typing import TypeVar

from ..errors import StateConflict
from ..models import Account, Row
from .base import DailyBuckets, DailyTotal, Decision, Lookup, RowFilter, ToolUsage, append_all

T = TypeVar("T")


class MemoryStore:
    """Rows in a list, accounts in a dict, one lock: trivially atomic."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._rows: list[Row] = []
        self._by_name: dict[str, Row] = {}
        self._by_user: dict[str, list[Row]] = defaultdict(list)
        self._accounts: dict[str, Account] = {}

    def account(self, user_id: str) -> Account:
        return self._accounts.get(user_id) or Account(user_id)

    def find(self, name: str) -> Row | None:
        return self._by_name.get(name)

    def transact(self, user_id: str, decide: Callable[[Account, Lookup], Decision[T]]) -> T:
        with self._lock:
            acc = self.account(user_id)
            decision = decide(acc, self.find)
            rows = append_all(decision.rows)
            if any(r.name in self._by_name for r in rows):
                raise StateConflict("that ledger row already exists; nothing was written")
            after = acc.with_rows(rows)
            if after.balance.included < 0 or after.balance.purchased < 0:
                raise StateConflict("that change would take a balance below zero; nothing was written")
            for row in rows:
                self._rows.append(row)
                self._by_name[row.name] = row
                self._by_user[row.user_id].append(row)
            if rows:
                self._accounts[user_id] = after
            return decision.result  # type: ignore[return-value]

    def tail(self, user_id: str, limit: int) -> list[Row]:
        return list(reversed(self._by_user.get(user_id, [])[-limit:])) if limit > 0 else []

    def rows(self, where: RowFilter = RowFilter(), limit: int | None = None) -> list[Row]:
        source = self._by_user.get(where.user_id, []) if where.user_id else self._rows
        out = [r for r in reversed(source) if _matches(r, where)]
        return out[:limit] if limit is not None else out

    def iter_rows(self, where: RowFilter = RowFilter(), *, light: bool = False) -> Iterator[Row]:
        """Rows matching ``where`` in append order (oldest first); ``light`` changes nothing here."""
        source = self._by_user.get(where.user_id, []) if where.user_id else self._rows
        return (r for r in list(source) if _matches(r, where))

    def daily_totals(self, where: RowFilter = RowFilter()) -> list[DailyTotal]:
        sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for r in self.rows(where):
            cell = sums[(r.created_at.astimezone(UTC).strftime("%Y-%m-%d"), r.kind)]
            cell[0] += r.delta
            cell[1] += 1
        return [DailyTotal(d, k, c, n) for (d, k), (c, n) in sorted(sums.items())]

    def daily_buckets(self, where: RowFilter = RowFilter()) -> list[DailyBuckets]:
        sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for r in self.rows(where):
            cell = sums[r.created_at.astimezone(UTC).strftime("%Y-%m-%d")]
            cell[0] += r.included_delta
            cell[1] += r.purchased_delta
            cell[2 if r.delta > 0 else 3] += r.delta
        return [DailyBuckets(d, *v) for d, v in sorted(sums.items())]

    def top_tools(self, where: RowFilter = RowFilter(), limit: int = 10) -> list[ToolUsage]:
        sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for r in self.rows(RowFilter(where.user_id, ("debit",), where.since, where.until)):
            cell = sums[r.meta.get("tool", "?")]
            cell[0] -= r.delta
            cell[1] += 1
        ranked = sorted(sums.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))
        return [ToolUsage(t, c, n) for t, (c, n) in ranked[:limit]]

    def accounts(self) -> list[Account]:
        return list(self._accounts.values())

    def close(self) -> None:
        pass


def _matches(row: Row, where: RowFilter) -> bool:
    if where.user_id and row.user_id != where.user_id:
        return False
    if where.kinds and row.kind not in where.kinds:
        return False
    if where.since and row.created_at < where.since:
        return False
    return not (where.until and row.created_at >= where.until)
