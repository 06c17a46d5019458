"""The ledger store interface: what every store guarantees.

A store holds append-only rows (unique by ``name``) and, beside them, each
user's derived :class:`~credits_core.models.Account` (balances by bucket,
plan, month state). The service never asks which store it holds.

Guarantees every implementation gives:

* ``transact(user_id, decide)`` runs ``decide(account, lookup)`` against a
  consistent view of that user's account and of row names, then appends the
  returned rows and the updated account **atomically**: all or nothing.
  Two concurrent ``transact`` calls never both see the same view and both
  write (SQLite: one write transaction; memory: a lock; Odoo: write, verify,
  and compensate by archiving, then ``decide`` runs again on the new view).
  ``decide`` must therefore be pure; it may raise a ``CreditsError`` to
  abort, in which case nothing is written.
* A row name is never stored twice; a balance never goes negative.
* ``account`` is one cheap read (no history scan); ``tail`` is the last
  ``limit`` rows of a user, newest first.
* Failures of the backing service raise ``LedgerUnavailable``, never a
  half-written change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar, runtime_checkable

from ..models import Account, Row

T = TypeVar("T")

# The two contract types between policy and stores: ``decide(account, lookup) -> Decision``.
# Finds an existing row by name inside the running transaction.
Lookup = Callable[[str], Row | None]


@dataclass(frozen=True)
class Decision(Generic[T]):
    """Rows to append atomically, and the answer to give once they are."""

    rows: list[Row] = field(default_factory=list)
    result: T | None = None


@dataclass(frozen=True)
class RowFilter:
    """Which rows an ops query looks at (every field optional)."""

    user_id: str | None = None
    kinds: tuple[str, ...] = ()
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


@dataclass(frozen=True)
class DailyTotal:
    day: str  # YYYY-MM-DD (UTC)
    kind: str
    credits: int  # sum of deltas
    rows: int


@dataclass(frozen=True)
class DailyBuckets:
    day: str  # YYYY-MM-DD (UTC)
    included: int  # net change of the included bucket
    purchased: int  # net change of the purchased bucket
    credits_in: int  # sum of the positive deltas
    credits_out: int  # sum of the negative deltas (<= 0)


@dataclass(frozen=True)
class ToolUsage:
    tool: str
    credits: int  # credits charged (positive)
    uses: int


@runtime_checkable
class LedgerStore(Protocol):
    """Append-only credit ledger with a derived per-user account."""

    def account(self, user_id: str) -> Account:
        """The user's derived state; an empty account for an unknown user."""
        ...

    def find(self, name: str) -> Row | None:
        """The active row with this name, if any."""
        ...

    def transact(self, user_id: str, decide: Callable[[Account, Lookup], Decision[T]]) -> T:
        """Run ``decide`` and append its rows atomically (see module docstring)."""
        ...

    def tail(self, user_id: str, limit: int) -> list[Row]:
        """The user's last ``limit`` rows, newest first."""
        ...

    def rows(self, where: RowFilter = RowFilter(), limit: int | None = None) -> list[Row]:
        """Rows matching ``where``, newest first."""
        ...

    def daily_totals(self, where: RowFilter = RowFilter()) -> list[DailyTotal]:
        """Sum of deltas and row count per UTC day and kind."""
        ...

    def daily_buckets(self, where: RowFilter = RowFilter()) -> list[DailyBuckets]:
        """Per UTC day: net change of each bucket, credits in and out (outstanding credits over time)."""
        ...

    def top_tools(self, where: RowFilter = RowFilter(), limit: int = 10) -> list[ToolUsage]:
        """Tools by credits charged (debits net of nothing; refunds are separate)."""
        ...

    def accounts(self) -> list[Account]:
        """Every user's derived account (for balance distributions)."""
        ...

    def iter_rows(self, where: RowFilter = RowFilter(), *, light: bool = False) -> Iterator[Row]:
        """Rows matching ``where`` in ledger order (oldest first), read a batch at a time: exports
        and replays stream, never load all (``light``: see :func:`iter_rows` below)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def append_all(rows: Iterable[Row]) -> list[Row]:
    """Materialise ``rows`` and check names are unique within the batch."""
    out = list(rows)
    if len(out) < 2:
        return out
    names = [r.name for r in out]
    if len(names) != len(set(names)):
        raise ValueError("a decision returned two rows with the same name")
    return out


def iter_rows(store: LedgerStore, where: RowFilter = RowFilter(), *, light: bool = False) -> Iterator[Row]:
    """Rows matching ``where`` oldest first, streamed when the store can (``iter_rows``).

    Every store here streams (Odoo in pages, ``odoo/reads.py``); a store
    without the capability would fall back to one ``rows`` read, reversed.
    ``light`` lets a store give covered debits only ``{"tool", "cost"}`` as meta.
    """
    stream = getattr(store, "iter_rows", None)
    if stream is not None:
        return stream(where, light=light)
    return reversed(store.rows(where))


def count_rows(store: LedgerStore, where: RowFilter = RowFilter()) -> int:
    """How many rows match ``where``, from the per-day aggregate every store has."""
    return sum(t.rows for t in store.daily_totals(where))
