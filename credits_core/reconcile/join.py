"""The pure join of Stripe facts to ledger facts: one drift line per disagreement.

No I/O: ``run.py`` gathers both sides, this decides. Categories (``code``),
and what ``--repair`` may do (``repair``; None = a human decides):

* ``paid_not_credited`` — a paid session of ours has no ``topup`` row (never
  confirmed, webhook lost) → ``credit`` through the one crediting path;
* ``refund_not_taken_back`` — the session's charge has more refunded at
  Stripe than the ledger recorded → ``take_back`` through the same path (the
  next row of the charge's refund chain);
* ``credited_not_paid`` — a ``topup`` row names a session that is not paid
  (e.g. written by hand) and was not reversed → ``reverse`` (``policy.reversals``);
* ``amount_mismatch`` — the top-up's user, credits, price or currency differ
  from the session's → manual;
* ``plan_mismatch`` — the ledger's plan differs from what the user's Stripe
  subscription says → ``sync_plan`` through the subscription path;
* ``stripe_object_missing`` — a ledger row names a Stripe object that does
  not exist (or is not ours) → manual (a wrong key or account is likelier
  than a free credit, and reversing every row would be wrong then).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import keys
from ..models import Row
from .stripe_facts import SessionFact, StripeFacts

REPAIRS = {
    "paid_not_credited": "credit",
    "refund_not_taken_back": "take_back",
    "credited_not_paid": "reverse",
    "amount_mismatch": None,
    "plan_mismatch": "sync_plan",
    "stripe_object_missing": None,
}


@dataclass(frozen=True)
class Drift:
    """One disagreement: the Stripe object, the ledger row (or the name it should have), what to do."""

    code: str
    stripe_id: str
    row: str | None
    user_id: str
    detail: str
    session: str | None = None  # the Checkout Session to repair from
    subscription: str | None = None  # the subscription to sync from

    @property
    def repair(self) -> str | None:
        return REPAIRS[self.code]

    def to_dict(self) -> dict[str, Any]:
        out = {
            "code": self.code,
            "stripeId": self.stripe_id,
            "row": self.row,
            "userId": self.user_id,
            "detail": self.detail,
            "repair": self.repair,
        }
        return {k: v for k, v in out.items() if v is not None}


@dataclass
class LedgerFacts:
    """The ledger's side for the sessions in view."""

    topups: dict[str, Row] = field(default_factory=dict)  # session id → its topup row
    refunded: dict[str, int] = field(default_factory=dict)  # session id → refunded amount recorded
    reversed: set[str] = field(default_factory=set)  # session ids with a reversal row
    plans: dict[str, Any] = field(default_factory=dict)  # user id → (plan, plan row) for subscriptions


def join(
    facts: StripeFacts,
    ledger: LedgerFacts,
    tenant: str,
    plan_drift: Callable[[StripeFacts, LedgerFacts], list[Drift]] | None = None,
) -> list[Drift]:
    """Every drift line, ordered by category then Stripe id."""
    out: list[Drift] = []
    for s in facts.sessions.values():
        if s.tenant != tenant:
            continue
        topup = ledger.topups.get(s.id)
        if s.paid is not None:
            out += _paid(s, topup, ledger)
        elif topup is not None and s.id not in ledger.reversed:
            out.append(
                Drift(
                    "credited_not_paid",
                    s.id,
                    topup.name,
                    topup.user_id,
                    f"{topup.delta} credits added, but the session is {s.status} / {s.payment_status}",
                    session=s.id,
                )
            )
    for sid, why in sorted(facts.missing.items()):
        topup = ledger.topups.get(sid)
        if topup is not None and sid not in ledger.reversed:
            out.append(
                Drift("stripe_object_missing", sid, topup.name, topup.user_id, f"{why}; {topup.delta} credits added")
            )
    if plan_drift is not None:
        out += plan_drift(facts, ledger)
    return sorted(out, key=lambda d: (list(REPAIRS).index(d.code), d.stripe_id))


def _paid(s: SessionFact, topup: Row | None, ledger: LedgerFacts) -> list[Drift]:
    money = f"{s.amount_total / 100:,.2f} {s.currency.upper()}"
    if topup is None:
        return [
            Drift(
                "paid_not_credited",
                s.id,
                keys.topup_name(s.id),
                s.user_id,
                f"paid {money} for {s.credits} credits ({s.pack_id}); no top-up row",
                session=s.id,
            )
        ]
    wrong = _mismatch(s, topup)
    if wrong:
        return [Drift("amount_mismatch", s.id, topup.name, topup.user_id, "; ".join(wrong), session=s.id)]
    charge = s.charge
    recorded = ledger.refunded.get(s.id, 0)
    if charge is not None and charge.amount_refunded > recorded:
        return [
            Drift(
                "refund_not_taken_back",
                charge.charge_id,
                topup.name,
                topup.user_id,
                f"{charge.amount_refunded} of {charge.amount} {charge.currency} refunded at Stripe; "
                f"the ledger recorded {recorded}",
                session=s.id,
            )
        ]
    return []


def _mismatch(s: SessionFact, topup: Row) -> list[str]:
    meta = topup.meta
    wrong = []
    if topup.user_id != s.user_id:
        wrong.append(f"credited to {topup.user_id}, paid by {s.user_id}")
    if int(meta.get("credits", topup.delta)) != s.credits:
        wrong.append(f"{meta.get('credits', topup.delta)} credits in the ledger, {s.credits} bought")
    if "price" in meta and int(meta["price"]) != s.amount_total:
        wrong.append(f"price {meta['price']} in the ledger, {s.amount_total} paid")
    if meta.get("currency") and s.currency and str(meta["currency"]).lower() != s.currency.lower():
        wrong.append(f"currency {meta['currency']} in the ledger, {s.currency} paid")
    return wrong
