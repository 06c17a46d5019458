"""Rule 6: a refund returns a debit's credits to the buckets they came from, once."""

from __future__ import annotations

from datetime import datetime

from .. import keys
from ..errors import NotFound
from ..models import Account, Balance, RefundResult, Row
from .ledger import Decision, new_row


def refund_rows(
    acc: Account, debit: Row | None, key: str, reason: str, now: datetime, existing: Row | None
) -> Decision[RefundResult]:
    """Refund ``debit`` (found under ``key``); a second refund replays the first."""
    if debit is None or debit.kind != "debit":
        raise NotFound(f"no debit with idempotencyKey {key!r}", idempotencyKey=key)
    if existing is not None:
        return Decision([], RefundResult(existing, Balance.from_dict(existing.meta["balanceAfter"]), replayed=True))
    after = Balance(acc.balance.included - debit.included_delta, acc.balance.purchased - debit.purchased_delta)
    row = new_row(
        acc,
        keys.refund_name(key),
        "refund",
        -debit.delta,
        -debit.included_delta,
        now,
        refundOf=debit.name,
        tool=debit.meta.get("tool"),
        cost=debit.meta.get("cost"),
        reason=reason,
        month=acc.month,
        balanceAfter=after.to_dict(),
    )
    return Decision([row], RefundResult(row, after))
