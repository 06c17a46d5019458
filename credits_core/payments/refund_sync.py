"""Stripe refunds of top-ups: read the charge from Stripe, settle in one transaction.

Rule (``credits_core.policy.stripe_refunds``): a paid session is worth
``pack × (1 − refunded fraction)`` credits, whichever of confirm,
``checkout.session.completed`` or ``charge.refunded`` comes first and however
often each comes. So every path reads the charge's current refunded amount
from Stripe and settles the session with it in one store transaction:

* confirm / completed: the session is retrieved with
  ``expand[]=payment_intent.latest_charge`` (a PaymentIntent creates at most
  one successful charge, https://docs.stripe.com/api/payment_intents) and
  credited net of what is already refunded;
* ``charge.refunded`` (https://docs.stripe.com/api/events/types): the session
  of the charge's payment intent is found with
  ``GET /v1/checkout/sessions?payment_intent=…`` (the list endpoint's filter,
  https://docs.stripe.com/api/checkout/sessions/list), then settled with the
  larger of the event's and Stripe's current ``amount_refunded``: credited
  net if it was not yet, else the refunds' difference taken back.

No ledger scan: the top-up is the row named after that session. The Stripe
reads use the gateway's client and parsers (same package) so that
``stripe_gateway.py`` stays as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import stripe

from ..errors import CheckoutNotFound
from ..policy.stripe_refunds import ChargeState, Settlement
from ..service import CreditsService
from .events import ChargeRefund, NotOurs, PaidSession, as_int, paid_from
from .stripe_gateway import StripeGateway, provider_error

log = logging.getLogger("credits_core.payments")

EXPAND_CHARGE = "payment_intent.latest_charge"


def session_charge(gateway: StripeGateway, session_id: str) -> ChargeState | None:
    """The session's charge as Stripe reports it now; None when it has none (nothing paid)."""
    return charge_of(gateway.retrieve_session(session_id, expand=[EXPAND_CHARGE]))


def paid_session_of_payment_intent(
    gateway: StripeGateway, payment_intent: str
) -> tuple[PaidSession, ChargeState | None] | None:
    """The paid top-up session of ``payment_intent`` with its charge; None when not one of ours."""
    try:
        found = gateway.client.v1.checkout.sessions.list(
            params={"payment_intent": payment_intent, "limit": 1, "expand": [f"data.{EXPAND_CHARGE}"]}
        ).to_dict()
    except stripe.StripeError as e:
        raise provider_error(e, "find the checkout of a refund") from None
    for session in found.get("data") or []:
        try:
            paid = paid_from(session)
        except NotOurs:
            return None
        return (paid, charge_of(session)) if paid is not None else None
    return None


def charge_of(session: Mapping[str, Any]) -> ChargeState | None:
    """The expanded ``payment_intent.latest_charge`` of a session, if any."""
    pi = session.get("payment_intent")
    charge = pi.get("latest_charge") if isinstance(pi, Mapping) else None
    if not isinstance(charge, Mapping) or charge.get("object") != "charge" or not isinstance(charge.get("id"), str):
        return None
    try:
        return ChargeState(
            charge["id"],
            as_int(charge.get("amount") or 0),
            as_int(charge.get("amount_refunded") or 0),
            str(charge.get("currency") or ""),
        )
    except NotOurs:
        return None


def newest(*charges: ChargeState | None) -> ChargeState | None:
    """The most refunded state of one charge (cumulative amounts only grow)."""
    known = [c for c in charges if c is not None]
    if not known:
        return None
    best = max(known, key=lambda c: c.amount_refunded)
    return best if all(c.charge_id == best.charge_id for c in known) else known[0]


def settle_paid_session(
    service: CreditsService, paid: PaidSession, charge: ChargeState | None, *, tenant: str, via: str
) -> Settlement:
    """Credit a paid session net of its charge's refunds, or take back newer refunds, once."""
    if paid.tenant != tenant:
        raise CheckoutNotFound(reason="other_tenant")
    done = service.settle_top_up(
        paid.user_id,
        paid.pack_id,
        paid.session_id,
        charge=charge,
        credits=paid.credits,
        price=paid.amount_total,
        currency=paid.currency,
        paymentIntent=paid.payment_intent,
        checkoutRegistryVersion=paid.registry_version,
        via=via,
    )
    if not done.topup.replayed:
        row = done.topup.row
        log.info("top-up %s credited: %s credits to %s (via %s)", paid.session_id, row.delta, paid.user_id, via)
    if done.refund is not None:
        log.info("refund of %s recorded for %s: %s", paid.session_id, paid.user_id, done.refund.meta.get("reason"))
    return done


def settle_charge_refund(
    service: CreditsService, gateway: StripeGateway, refund: ChargeRefund, *, tenant: str
) -> dict[str, Any]:
    """``charge.refunded``: settle the session of the refunded payment; the webhook's answer."""
    if not refund.payment_intent or refund.amount <= 0:
        return {"received": True, "action": "ignored"}
    found = paid_session_of_payment_intent(gateway, refund.payment_intent)
    if found is None:
        log.info("charge.refunded for %s matches no top-up of ours; ignored", refund.charge_id)
        return {"received": True, "action": "ignored"}
    paid, fresh = found
    sent = ChargeState(refund.charge_id, refund.amount, refund.amount_refunded, refund.currency)
    try:
        done = settle_paid_session(service, paid, newest(fresh, sent), tenant=tenant, via="refund")
    except CheckoutNotFound:
        return {"received": True, "action": "ignored", "sessionId": paid.session_id}
    # credited now (net of the refund), or the refund is on the books (now or before)
    action = "refund_recorded" if done.topup.replayed else "credited"
    return {"received": True, "action": action, "sessionId": paid.session_id}
