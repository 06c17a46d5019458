"""Reads of the Odoo ledger for exports and the Ops overview.

A mixin of :class:`~credits_core.stores.odoo.OdooStore`, kept apart so the
store's write path stays untouched. ``iter_rows``: pages of ``search_read`` over the active
``CZ_SMCR|`` leads in id order, each page starting after the last id seen
(``["id", ">", last]`` with ``limit``: unlike ``offset``, a page never skips or
repeats a row when rows are archived or added meanwhile). ``daily_buckets``:
one group-by of day and kind (``color`` holds the included part); credits in
and out are the per-kind daily sums by their sign (only ``adjust`` rows can
carry both signs in one day, and then their net counts).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...models import Row
from ..base import DailyBuckets, RowFilter
from .rows import READ_FIELDS, from_record


class OdooLedgerReads:
    """``iter_rows`` for the Odoo store (uses the store's retried ``_read``)."""

    def _read(self, method: str, **params: Any) -> Any:  # provided by OdooStore
        raise NotImplementedError

    def _group(self, domain: list[Any], groupby: list[str], aggregates: dict[str, str]) -> list[dict[str, Any]]:
        raise NotImplementedError  # provided by OdooStore

    def daily_buckets(self, where: RowFilter = RowFilter()) -> list[DailyBuckets]:
        """Per UTC day: bucket changes and credits in / out (see module docstring)."""
        from .store import _domain

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
        from .store import _domain

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
