"""Reads of :class:`~credits_core.service.CreditsService`: ledger identity, exports, ops tables, insights.

A mixin, so the service stays one object for its callers while each file holds one idea:
``service.py`` the decisions (state, debit, refund, plan, top-up), ``service_holds.py``
the hold verbs, this module what ops, exports and insights read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from . import keys
from .errors import BadRequest
from .models import LEDGER_USER, Account, Row
from .policy import rollover_rows
from .policy.checkpoints import checkpoint_rows
from .policy.grants import current_plan
from .registry import Registry
from .stores.base import Decision, Lookup, RowFilter, count_rows, iter_rows

RUNWAY_ROWS = 1000  # newest rows a runway reads


class LedgerReads:
    """Ledger identity and maintenance, ops queries and insights (needs ``store``, ``registry``, ``now``)."""

    # -- ledger identity and maintenance --------------------------------------
    @property
    def ledger_id(self) -> str:
        """Which ledger this service writes (store kind and location): a cache identity for readers."""
        store = self.store
        return f"{type(store).__name__}:{getattr(store, 'path', '') or getattr(store, 'url', '')}"

    def revision(self, user_id: str) -> str:
        """A marker that changes whenever ``user_id``'s rows or the registry change (one cheap read)."""
        return f"{self.store.account(keys.check_user(user_id)).rows}:{self.registry.version}"

    def has_history(self) -> bool:
        """True when the ledger holds any account."""
        return bool(self.store.accounts())

    def bulk_writes(self):  # -> a context manager
        """Relaxed durability for a bulk load (seeding), where the store offers it; else nothing changes."""
        relax = getattr(self.store, "relaxed_durability", None)
        return relax() if relax is not None else contextlib.nullcontext()

    def export_rows(self, where: RowFilter = RowFilter()) -> list[Row]:
        """Every row matching ``where``, newest first (exports)."""
        return self.store.rows(where)

    def iter_rows(self, where: RowFilter = RowFilter()) -> Iterator[Row]:
        """Rows matching ``where`` in ledger order, streamed (chained exports)."""
        return iter_rows(self.store, where)

    def find_row(self, name: str) -> Row | None:
        """The row named ``name`` (a checkpoint, a top-up), if any."""
        return self.store.find(name)

    def checkpoint(self, export_id: str, head: str, rows: int, **meta: Any) -> Row:
        """Record a chained export's head in the ledger, once (``CZ_SMCR|checkpoint|<id>``, delta 0).

        Written for the ledger's own user (``LEDGER_USER``): no monthly grant runs for it.
        """
        export_id = keys.check_key(export_id, "exportId")
        now = self.now()

        def decide(acc: Account, lookup: Lookup) -> Decision[Row]:
            found = lookup(keys.checkpoint_name(export_id))
            return checkpoint_rows(acc, export_id, head, rows, now, found, **meta)

        return self.store.transact(LEDGER_USER, decide)

    # -- ops queries ---------------------------------------------------------
    def daily_totals(self, where: RowFilter = RowFilter()):  # -> pandas.DataFrame
        """Credits and row counts per UTC day and kind."""
        from .ops import daily_totals_frame

        return daily_totals_frame(self.store.daily_totals(where))

    def outstanding(self, where: RowFilter = RowFilter()):  # -> pandas.DataFrame
        """Outstanding credits per UTC day by bucket, purchased ones valued at the price paid; credits in / out."""
        from .ops import outstanding_frame

        topups = self.store.rows(RowFilter(where.user_id, ("topup",), None, where.until))
        return outstanding_frame(self.store.daily_buckets(RowFilter(where.user_id, (), None, where.until)), topups)

    def top_tools(self, where: RowFilter = RowFilter(), limit: int = 10):  # -> pandas.DataFrame
        """Tools ranked by credits charged."""
        from .ops import top_tools_frame

        return top_tools_frame(self.store.top_tools(where, limit), self.registry)

    def balances(self):  # -> pandas.DataFrame
        """Every user's balance by bucket and plan."""
        from .ops import balances_frame

        return balances_frame(self.store.accounts(), self.registry)

    def holds(self, user_id: str | None = None, limit: int = 500):  # -> pandas.DataFrame
        """The newest holds (of ``user_id`` or everyone) with their status, newest first."""
        from .ops_holds import holds_frame

        return holds_frame(self.store, self.now(), user_id, limit)

    def rows(self, where: RowFilter = RowFilter(), limit: int | None = 1000):  # -> pandas.DataFrame
        """Ledger rows matching ``where``, newest first, as a table."""
        from .ops import rows_frame

        return rows_frame(self.store.rows(where, limit))

    # -- insights ------------------------------------------------------------
    def replay(
        self,
        window: tuple[datetime, datetime] | None = None,
        candidate: Registry | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
    ):  # -> credits_core.insights.ReplayReport
        """Replay ``window`` (default: the last full month) of the ledger under ``candidate``.

        Streams the rows before the window's end (earlier rows set each user's
        starting state); ``progress(done, total)`` is called every few thousand rows.
        """
        from .insights.replay import last_full_month, replay

        since, until = window or last_full_month(self.now())
        if until <= since:
            raise BadRequest("the replay window must end after it starts", field="window")
        baseline = self.registry
        candidate = candidate or baseline
        if self.starter_plan is not None:
            candidate = candidate.with_default_plan(self.starter_plan)
        where = RowFilter(until=until)
        total = count_rows(self.store, where) if progress is not None else 0
        return replay(
            iter_rows(self.store, where, light=True), baseline, candidate, since, until, total=total, progress=progress
        )

    def runway(self, user_id: str, *, holds: int | None = None):  # -> credits_core.insights.Runway | None
        """Days the user's balance lasts at their recent pace, or ``None`` with too little history.

        ``holds`` (credits reserved by active holds) defaults to the user's active holds. The
        pace is read from the user's last ``RUNWAY_ROWS`` rows (a very busy user's pace
        is then measured over a shorter stretch).
        """
        from .insights.runway import LOOKBACK_DAYS, estimate, usage_of

        keys.check_user(user_id)
        reg, now = self.registry, self.now()
        acc = self.store.account(user_id)
        acc = acc.with_rows(rollover_rows(acc, reg, now))
        plan = current_plan(acc, reg)
        since = now - timedelta(days=LOOKBACK_DAYS)  # the newest rows only: one cheap indexed read
        usage = usage_of(r for r in self.store.tail(user_id, RUNWAY_ROWS) if r.created_at >= since)
        held = acc.held_at(now) if holds is None else holds
        return estimate(usage, acc.balance, plan.monthly_included, plan.soft_cap, now, holds=held)
