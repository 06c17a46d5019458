"""The verdict of every ledger row, as a pure function of the active rows below it (no I/O).

Ledger order is ``crm.lead`` id order. The rows one ``create`` wrote (one
write token, ``txn``) stand or fall together, at the place of their lowest
id. Folding a user's active rows in that order, a write is **rejected** when

* *name* — a row of it carries a name an accepted row with a lower id holds
  (any user): the lowest id wins a name;
* *stale* — it records the account it was decided on (``base``) and that is
  not the account the accepted rows before it add up to: its amounts,
  bucket split and ``balanceAfter`` could differ from the ledger's;
* *balance* — it takes a bucket it draws from below zero. A write that only
  adds credits (top-up, refund, grant, positive adjustment) is never
  rejected for this: the accepted rows before it never leave a bucket below
  zero, so it cannot be the one that does;
* *available* — it carries no base and holds credits (a ``CZ_SMCR|hold|…``
  row, delta 0) that take the credits available after it below zero, and
  below what they were before it: available is the balance minus the holds
  active at the hold row's ``created_at`` (``Account.held_at``: a hold not
  ended by a settle or release row and not expired). The engine never writes
  such a hold (``policy/holds.py``): enforced it is a 402, warn-only it holds
  only what is available and records the ``shortfall``. A row does not say
  which mode decided it (``shortfall`` is set only when a hold was cut short),
  so the rule is the same in both. A hold of nothing (warn-only, nothing
  available) or one already expired when written never over-commits.

Everything else is **accepted**, so every process that sees the same rows
reaches the same verdicts and the same answers (``balanceAfter`` of an
accepted row is the ledger's balance after it). Rows written before writes
carried a base (or inserted by hand) are judged on names, balance and, for
holds, available credits; a write with a base is judged on that base instead
(*stale*), as the engine checked available credits on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...models import Account, Row
from .rows import from_record

Base = tuple[Any, ...]


def base_of(acc: Account) -> list[Any]:
    """What a decision depends on: balances, row count and month state of the account it ran on."""
    b = acc.balance
    return [b.included, b.purchased, acc.rows, acc.plan, acc.month, acc.month_peak, acc.month_granted, acc.trim_seq]


@dataclass(frozen=True)
class Rec:
    """One active ledger record: its id, the row, and what its writer stored beside the row."""

    id: int
    row: Row
    txn: str | None = None
    base: Base | None = None

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> Rec:
        try:
            envelope = json.loads(record.get("street2") or "{}")
        except ValueError:
            envelope = {}
        base = envelope.get("base")
        return cls(int(record["id"]), from_record(record), envelope.get("txn"), tuple(base) if base else None)


@dataclass
class Fold:
    """Verdicts of the folded records and the account the accepted ones add up to."""

    account: Account
    accepted: set[int] = field(default_factory=set)
    rejected: dict[int, str] = field(default_factory=dict)

    def verdict(self, rid: int) -> str:
        """``"accepted"``, or the reason of the rejection (``""`` for an id not folded)."""
        return "accepted" if rid in self.accepted else self.rejected.get(rid, "")


def fold(start: Account, recs: Iterable[Rec], holders: Mapping[str, int] | None = None) -> Fold:
    """Judge ``recs`` (one user's active rows above a settled prefix whose account is ``start``).

    ``holders`` maps a name to the lowest id of an accepted row outside ``recs`` holding it.
    """
    writes: dict[Any, list[Rec]] = {}
    for rec in sorted(recs, key=lambda r: r.id):
        writes.setdefault(rec.txn or ("row", rec.id), []).append(rec)
    held = dict(holders or {})
    out = Fold(start)
    for write in writes.values():
        rows = [r.row for r in write]
        after = out.account.with_rows(rows)
        base = write[0].base
        if any(held.get(r.row.name, r.id) < r.id for r in write):
            reason = "name"
        elif base is not None and base != tuple(base_of(out.account)):
            reason = "stale"
        elif _overdraws(after, rows):
            reason = "balance"
        elif base is None and _overcommits(out.account, after, rows):
            reason = "available"
        else:
            out.account = after
            out.accepted.update(r.id for r in write)
            for r in write:
                held[r.row.name] = min(held.get(r.row.name, r.id), r.id)
            continue
        out.rejected.update((r.id, reason) for r in write)
    return out


def _overdraws(after: Account, rows: list[Row]) -> bool:
    took_included = sum(r.included_delta for r in rows) < 0
    took_purchased = sum(r.purchased_delta for r in rows) < 0
    return (after.balance.included < 0 and took_included) or (after.balance.purchased < 0 and took_purchased)


def _overcommits(before: Account, after: Account, rows: list[Row]) -> bool:
    """A hold among ``rows`` takes available credits below zero, and lower than before (module docstring)."""
    holds = [r for r in rows if r.kind == "hold"]
    if not holds:
        return False
    at = max(r.created_at for r in holds)
    left = after.balance.total - after.held_at(at)
    return left < 0 and left < before.balance.total - before.held_at(at)
