"""The read half of the store protocol: accounts, finds, tails, totals, exports and the Ops overview.

``account`` and ``find`` go through the judged views (``view.py``); the
others are plain ``search_read`` / group-by requests over the active
``CZ_SMCR|`` leads. ``iter_rows``: pages of ``search_read`` over the active
``CZ_SMCR|`` leads in id order, each page starting after the last id seen
(``["id", ">", last]`` with ``limit``: unlike ``offset``, a page never skips or
repeats a row when rows are archived or added meanwhile). ``daily_buckets``:
one group-by of day and kind (``color`` holds the included part); credits in
and out are the per-kind daily sums by their sign (only ``adjust`` rows can
carry both signs in one day, and then their net counts).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from ...models import Account, Row
from ..base import DailyBuckets, DailyTotal, RowFilter, ToolUsage
from .rows import AGGREGATES, LEDGER_DOMAIN, READ_FIELDS, Group, from_record, to_group, ts
from .view import OdooViews


class OdooLedgerReads(OdooViews):
    """Reads of the ledger (a layer of :class:`~.store.OdooStore`; requests retried by ``calls.py``)."""

    # -- reads -------------------------------------------------------------------------
    def account(self, user_id: str) -> Account:
        return self._fresh_view(user_id).account

    def find(self, name: str) -> Row | None:
        row = self._find(name)
        finds = getattr(self._local, "finds", None)
        if finds is None:
            finds = self._local.finds = {}
        finds.clear()
        finds[name] = (row, time.monotonic())
        return row

    def tail(self, user_id: str, limit: int) -> list[Row]:
        if limit <= 0:
            return []
        return self._search([["partner_name", "=", user_id], *LEDGER_DOMAIN], order="id desc", limit=limit)

    def rows(self, where: RowFilter = RowFilter(), limit: int | None = None) -> list[Row]:
        return self._search(_domain(where), order="id desc", limit=limit)

    def daily_totals(self, where: RowFilter = RowFilter()) -> list[DailyTotal]:
        raw = self._group(_domain(where), ["city", "referred"], {"delta": "expected_revenue:sum", "n": "__count"})
        totals = [
            DailyTotal(r["city"] or "", r["referred"] or "", round(r["delta"] or 0), int(r["n"] or 0)) for r in raw
        ]
        return sorted(totals, key=lambda t: (t.day, t.kind))

    def top_tools(self, where: RowFilter = RowFilter(), limit: int = 10) -> list[ToolUsage]:
        domain = _domain(RowFilter(where.user_id, ("debit",), where.since, where.until))
        raw = self._group(domain, ["street"], {"delta": "expected_revenue:sum", "n": "__count"})
        sums: dict[str, list[int]] = {}
        for r in raw:
            cell = sums.setdefault(r["street"] or "?", [0, 0])
            cell[0] -= round(r["delta"] or 0)
            cell[1] += int(r["n"] or 0)
        ranked = sorted(sums.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))
        return [ToolUsage(t, c, n) for t, (c, n) in ranked[:limit]]

    def accounts(self) -> list[Account]:
        raw = self._group(LEDGER_DOMAIN, ["partner_name", "contact_name"], AGGREGATES)
        by_user: dict[str, list[Group]] = {}
        for r in raw:
            by_user.setdefault(r["partner_name"] or "", []).append(to_group(r))
        return [self._account_of(user, groups) for user, groups in sorted(by_user.items())]

    def daily_buckets(self, where: RowFilter = RowFilter()) -> list[DailyBuckets]:
        """Per UTC day: bucket changes and credits in / out (see module docstring)."""
        raw = self._group(_domain(where), ["city", "referred"], {"delta": "expected_revenue:sum", "inc": "color:sum"})
        days: dict[str, list[int]] = {}
        for r in raw:
            delta, inc = round(r["delta"] or 0), round(r["inc"] or 0)
            cell = days.setdefault(r["city"] or "", [0, 0, 0, 0])
            cell[0] += inc
            cell[1] += delta - inc
            cell[2 if delta > 0 else 3] += delta
        return [DailyBuckets(d, *v) for d, v in sorted(days.items())]

    def iter_rows(self, where: RowFilter = RowFilter(), *, light: bool = False, batch: int = 1000) -> Iterator[Row]:
        """Active ledger rows matching ``where``, oldest first, ``batch`` records per request (``light``: whole rows)."""
        domain = _domain(where)
        last = 0
        while True:
            page = self._read(
                "search_read",
                domain=[["id", ">", last], *domain],
                fields=READ_FIELDS,
                order="id asc",
                limit=max(1, batch),
            )
            for rec in page:
                yield from_record(rec)
            if len(page) < batch:
                return
            last = int(page[-1]["id"])


def _domain(where: RowFilter) -> list[Any]:
    domain: list[Any] = []
    if where.user_id:
        domain.append(["partner_name", "=", where.user_id])
    if where.kinds:
        domain.append(["referred", "in", list(where.kinds)])
    if where.since:
        domain.append(["function", ">=", ts(where.since)])
    if where.until:
        domain.append(["function", "<", ts(where.until)])
    return domain + LEDGER_DOMAIN
