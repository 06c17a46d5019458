"""Taking back a top-up that no payment backs (found by reconciliation), once.

A ``topup`` row naming a Checkout Session that Stripe reports unpaid (open,
expired, or still unpaid) — e.g. written by hand — is reversed by one row
``CZ_SMCR|adjust|reconcile-unpaid:<session>``: it takes the credits back from
the purchased bucket, never below zero; what was already spent is recorded
as ``short`` (and in ``reason``) for finance, like a Stripe refund of spent
credits. The row name makes it happen at most once.
"""

from __future__ import annotations

from datetime import datetime

from .. import keys
from ..models import Account, Balance, Row
from .ledger import Decision, new_row

REVERSAL_PREFIX = "reconcile-unpaid"


def reversal_name(session_id: str) -> str:
    return keys.adjust_name(f"{REVERSAL_PREFIX}:{session_id}")


def reversal_rows(
    acc: Account, topup: Row, session_id: str, why: str, now: datetime, existing: Row | None
) -> Decision[Row]:
    """The reversal of ``topup`` (credits it added), or the earlier one replayed."""
    if existing is not None:
        return Decision([], existing)
    wanted = max(0, topup.delta)
    take = min(wanted, acc.balance.purchased)
    short = wanted - take
    reason = f"reconcile: top-up {session_id} is not paid ({why}): -{take} of {wanted} credits"
    if short:
        reason += f", short {short} (already spent)"
    after = Balance(acc.balance.included, acc.balance.purchased - take)
    row = new_row(
        acc,
        reversal_name(session_id),
        "adjust",
        -take,
        0,
        now,
        reason=reason[:200],
        session=session_id,
        topup=topup.name,
        wanted=wanted,
        short=short or None,
        month=acc.month,
        balanceAfter=after.to_dict(),
    )
    return Decision([row], row)
