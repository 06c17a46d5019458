"""Rule 7 (top-up into the purchased bucket, once per session) and ops adjustments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .. import keys
from ..errors import BadRequest, IdempotencyConflict
from ..models import Account, Balance, Row, TopUpResult
from ..registry import Pack, Registry
from .ledger import Decision, new_row


def topup_rows(
    acc: Account,
    registry: Registry,
    pack: Pack,
    reference: str,
    now: datetime,
    existing: Row | None,
    *,
    credits: int | None = None,
    refunded: int = 0,
    **meta: Any,
) -> Decision[TopUpResult]:
    """Credit ``pack`` once for ``reference`` (a Stripe Checkout session id).

    ``credits`` overrides the pack's amount: a paid session is credited with
    what the buyer was shown at checkout, even if the registry changed since.
    ``refunded`` credits of it are held back (its payment was partly or wholly
    refunded before it was credited: ``policy.stripe_refunds``).
    """
    if existing is not None:
        if existing.user_id != acc.user_id:
            raise IdempotencyConflict("this payment reference was already credited to another account", field="userId")
        return Decision([], TopUpResult(existing, Balance.from_dict(existing.meta["balanceAfter"]), replayed=True))
    amount = pack.credits if credits is None else credits
    refunded = max(0, min(refunded, amount))
    after = Balance(acc.balance.included, acc.balance.purchased + amount - refunded)
    own = dict(
        pack=pack.id,
        credits=amount,
        reference=reference,
        price=pack.price,
        currency=pack.currency,
        registryVersion=registry.version,
        month=acc.month,
        balanceAfter=after.to_dict(),
        refundedCredits=refunded or None,
    )
    extra = {k: v for k, v in meta.items() if k not in own}  # callers add context, never override the facts
    row = new_row(acc, keys.topup_name(reference), "topup", amount - refunded, 0, now, **own, **extra)
    return Decision([row], TopUpResult(row, after))


def adjust_rows(
    acc: Account, key: str, delta: int, bucket: str, reason: str, now: datetime, existing: Row | None
) -> Decision[TopUpResult]:
    """A manual ops correction; it may not take a bucket below zero."""
    if existing is not None:
        if existing.user_id != acc.user_id:
            raise IdempotencyConflict("this adjustment key was already used for another account", field="userId")
        return Decision([], TopUpResult(existing, Balance.from_dict(existing.meta["balanceAfter"]), replayed=True))
    if bucket not in ("included", "purchased"):
        raise BadRequest("bucket must be 'included' or 'purchased'", field="bucket")
    inc = delta if bucket == "included" else 0
    after = Balance(acc.balance.included + inc, acc.balance.purchased + delta - inc)
    if after.included < 0 or after.purchased < 0:
        raise BadRequest(f"adjustment of {delta} would take the {bucket} bucket below zero", field="delta")
    row = new_row(
        acc,
        keys.adjust_name(key),
        "adjust",
        delta,
        inc,
        now,
        reason=reason,
        month=acc.month,
        balanceAfter=after.to_dict(),
    )
    return Decision([row], TopUpResult(row, after))
