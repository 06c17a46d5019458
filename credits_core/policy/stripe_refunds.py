"""Stripe refunds of top-ups: a paid pack is worth its unrefunded share, once per charge.

A top-up's charge may be refunded before or after the pack is credited, in
parts, and Stripe may deliver the news in any order and more than once. The
rule keeps one number per charge: the credits its refunds want back,
``pack credits × cumulative refunded fraction`` (rounded down; all of them
once fully refunded), whatever order the deliveries take.

* Crediting a session (confirm, webhook or refund, whichever is first) writes
  ``CZ_SMCR|topup|<session>`` with ``pack − wanted`` credits: a fully
  refunded payment is credited 0. The row records the charge, the refunded
  amount it saw (``refundedAmount``) and the credits netted (``refundedCredits``).
* A later refund state of the charge appends the next row of the chain
  ``CZ_SMCR|adjust|stripe-refund:<charge>:<n>`` (n = 1, 2, …) taking back
  ``wanted now − wanted before``, limited to the purchased bucket; what could
  not be taken is ``short`` (and said in ``reason``) for finance. A state
  not newer than the recorded one (a redelivery, an older event) writes nothing.

Everything is decided inside one store transaction from by-name lookups
(the top-up row, then the chain until its first gap), so concurrent
deliveries serialise on the store's write lock (SQLite) or collide on the
next chain name (Odoo's check-and-compensate) and never take twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import keys
from ..models import Account, Balance, Row, TopUpResult
from ..registry import Pack, Registry
from .ledger import Decision, Lookup, new_row
from .topups import topup_rows

REFUND_KEY_PREFIX = "stripe-refund"


@dataclass(frozen=True)
class ChargeState:
    """What Stripe says of a top-up's charge: its amount and cumulative amount refunded."""

    charge_id: str
    amount: int
    amount_refunded: int
    currency: str = ""


@dataclass(frozen=True)
class Settlement:
    """A paid session after settling: its top-up answer and the refund row written now, if any."""

    topup: TopUpResult
    refund: Row | None = None


def refund_chain_name(charge_id: str, n: int) -> str:
    """Name of the ``n``-th refund row of a charge (n ≥ 1)."""
    return keys.adjust_name(f"{REFUND_KEY_PREFIX}:{charge_id}:{n}")


def wanted_back(credits: int, charge: ChargeState | None) -> int:
    """Credits a charge's refunds take back from a pack of ``credits``."""
    if charge is None or charge.amount <= 0 or charge.amount_refunded <= 0:
        return 0
    if charge.amount_refunded >= charge.amount:
        return credits
    return credits * charge.amount_refunded // charge.amount


@dataclass(frozen=True)
class _Progress:
    refunded: int  # largest cumulative refunded amount recorded
    wanted: int  # credits meant to be taken back so far (taken + short)
    rows: int  # length of the chain


def _progress(topup: Row, charge_id: str, lookup: Lookup) -> _Progress:
    meta = topup.meta
    own = meta.get("charge") == charge_id
    refunded = int(meta.get("refundedAmount", 0)) if own else 0
    wanted = int(meta.get("refundedCredits", 0)) if own else 0
    n = 0
    while (row := lookup(refund_chain_name(charge_id, n + 1))) is not None:
        n += 1
        refunded = max(refunded, int(row.meta.get("refundedAmount", 0)))
        wanted += int(row.meta.get("wanted", -row.delta))
    return _Progress(refunded, wanted, n)


def recorded_refund(topup: Row, charge_id: str, lookup: Lookup) -> int:
    """The largest refunded amount of ``charge_id`` the ledger recorded (top-up and chain): reconciliation."""
    return _progress(topup, charge_id, lookup).refunded


def charge_refund_rows(
    acc: Account, topup: Row, charge: ChargeState, now: datetime, lookup: Lookup
) -> Decision[Row | None]:
    """The next refund row of ``charge`` against a credited ``topup``; none when nothing is new."""
    done = _progress(topup, charge.charge_id, lookup)
    if charge.amount_refunded <= done.refunded:
        return Decision([], None)
    credits = int(topup.meta.get("credits", topup.delta))
    wanted = max(0, wanted_back(credits, charge) - done.wanted)
    take = min(wanted, acc.balance.purchased)
    short = wanted - take
    # Most telling first: readers keep 200 characters of a reason.
    reason = f"stripe refund of charge {charge.charge_id}: -{take} of {wanted} credits"
    if short:
        reason += f", short {short} (already spent)"
    reason += f"; {charge.amount_refunded}/{charge.amount} {charge.currency} refunded"
    after = Balance(acc.balance.included, acc.balance.purchased - take)
    row = new_row(
        acc,
        refund_chain_name(charge.charge_id, done.rows + 1),
        "adjust",
        -take,
        0,
        now,
        reason=reason,
        charge=charge.charge_id,
        session=topup.meta.get("reference"),
        refundedAmount=charge.amount_refunded,
        amount=charge.amount,
        currency=charge.currency or None,
        wanted=wanted,
        short=short or None,
        month=acc.month,
        balanceAfter=after.to_dict(),
    )
    return Decision([row], row)


def settle_topup_rows(
    acc: Account,
    registry: Registry,
    pack: Pack,
    reference: str,
    now: datetime,
    lookup: Lookup,
    *,
    charge: ChargeState | None,
    credits: int | None = None,
    **meta: Any,
) -> Decision[Settlement]:
    """Credit a paid session net of its charge's refunds, or bring a credited one up to date.

    ``charge`` is the charge as Stripe reports it now (None: no charge, e.g. a
    100 % discount, or not known); ``credits`` the pack's credits at checkout.
    """
    existing = lookup(keys.topup_name(reference))
    if existing is None:
        amount = pack.credits if credits is None else credits
        netted = wanted_back(amount, charge)
        if charge is not None:
            meta = {**meta, "charge": charge.charge_id, "refundedAmount": charge.amount_refunded}
        made = topup_rows(acc, registry, pack, reference, now, None, credits=amount, refunded=netted, **meta)
        return Decision(made.rows, Settlement(made.result))  # type: ignore[arg-type]
    replay = topup_rows(acc, registry, pack, reference, now, existing).result
    if charge is None:
        return Decision([], Settlement(replay))  # type: ignore[arg-type]
    refund = charge_refund_rows(acc, existing, charge, now, lookup)
    return Decision(refund.rows, Settlement(replay, refund.result))  # type: ignore[arg-type]
