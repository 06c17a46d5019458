"""Streaming every ledger row out of Odoo, a page at a time (exports of any size).

A mixin of :class:`~credits_core.stores.odoo.OdooStore`, kept apart so the
store's write path stays untouched: pages of ``search_read`` over the active
``CZ_SMCR|`` leads in id order, each page starting after the last id seen
(``["id", ">", last]`` with ``limit``: unlike ``offset``, a page never skips or
repeats a row when rows are archived or added meanwhile).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..models import Row
from .odoo_rows import LEDGER_DOMAIN, READ_FIELDS, from_record


class OdooRowStream:
    """``iter_rows`` for the Odoo store (uses the store's retried ``_read``)."""

    def _read(self, method: str, **params: Any) -> Any:  # provided by OdooStore
        raise NotImplementedError

    def iter_rows(self, batch: int = 1000) -> Iterator[Row]:
        """Every active ledger row, oldest first, ``batch`` records per request."""
        last = 0
        while True:
            page = self._read(
                "search_read",
                domain=[["id", ">", last], *LEDGER_DOMAIN],
                fields=READ_FIELDS,
                order="id asc",
                limit=max(1, batch),
            )
            for rec in page:
                yield from_record(rec)
            if len(page) < batch:
                return
            last = int(page[-1]["id"])
