"""Crediting Stripe payments to the ledger: one path for confirm and webhook.

``credit_paid_session`` is the only place a paid Checkout Session becomes a
``topup`` row. The confirm route (the browser coming back from Checkout) and
the webhook (``checkout.session.completed`` /
``checkout.session.async_payment_succeeded``) both call it; the row name
``CZ_SMCR|topup|<sessionId>`` makes it happen once whichever arrives first,
and the later one gets ``replayed: true`` (SPEC §4.7; Stripe, "Fulfill
orders": fulfilment must be idempotent because both paths and webhook
retries can deliver the same session, https://docs.stripe.com/checkout/fulfillment).

Refunds (``charge.refunded``, https://docs.stripe.com/api/events/types#event_types-charge.refunded):
finance expects a refunded purchase to take its credits back, but credits
already spent cannot be un-spent and the balance never goes negative. So
``record_charge_refund`` writes an ``adjust`` row on the purchased bucket of
``-(pack credits × refunded fraction)`` less what earlier refunds of the same
charge already took, limited to what is left in the purchased bucket; the
part it could not take back is written in the row's reason (``short N``) for
finance to reconcile. The key is ``stripe-refund:<charge>:<amount_refunded>``
(Stripe reports the cumulative refunded amount), so retries and duplicate
deliveries of one refund write nothing new, and a later partial refund of the
same charge writes only the difference.

The HTTP routes and the Account page call these functions; they use only
the service's public API and ``service.store.rows`` (to find a top-up by
payment intent, refunds being rare).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from typing import Any

from .. import keys
from ..errors import BadRequest, Conflict, IdempotencyConflict
from ..models import Row, TopUpResult
from ..service import CreditsService
from ..stores.base import RowFilter
from .stripe_gateway import (
    EVENT_ASYNC_PAYMENT_SUCCEEDED,
    EVENT_CHECKOUT_COMPLETED,
    ChargeRefund,
    CheckoutNotFound,
    CheckoutSession,
    PaidSession,
    PaymentProviderError,
    StripeGateway,
    WebhookEvent,
)

log = logging.getLogger("credits_core.payments")

REFUND_KEY_PREFIX = "stripe-refund"


def start_checkout(
    service: CreditsService,
    gateway: StripeGateway,
    user_id: str,
    pack_id: str,
    *,
    tenant: str,
    attempt_key: str | None = None,
    email: str | None = None,
) -> CheckoutSession:
    """A Stripe Checkout Session for a registry pack, priced from the current registry.

    ``attempt_key`` (a client's Idempotency-Key) makes retries return the same
    session; it is hashed with the user id so two users' keys never collide
    (Stripe idempotency keys are at most 255 characters). Reusing it for
    another pack is ``IdempotencyConflict``.
    """
    registry = service.registry
    pack = registry.pack(pack_id)
    if attempt_key:
        attempt = "cz-checkout-" + hashlib.sha256(f"{user_id}|{attempt_key}".encode()).hexdigest()
    else:
        attempt = "cz-checkout-" + secrets.token_hex(16)
    try:
        return gateway.create_checkout(
            user_id=user_id,
            pack_id=pack.id,
            pack_label=pack.label,
            credits=pack.credits,
            unit_amount=pack.price,
            currency=pack.currency,
            registry_version=registry.version,
            tenant=tenant,
            attempt_id=attempt,
            customer_email=email,
        )
    except PaymentProviderError as exc:
        if exc.details.get("reason") == "idempotency_conflict":
            raise IdempotencyConflict(
                "this Idempotency-Key was already used for another checkout; use a new key",
                field="Idempotency-Key",
            ) from None
        raise


def confirm_checkout(
    service: CreditsService, gateway: StripeGateway, user_id: str, session_id: str, *, tenant: str, via: str
) -> TopUpResult:
    """The buyer came back from Checkout: credit their paid session once.

    Another user's session → ``Forbidden`` (before saying whether it is
    paid); unpaid / expired → ``CheckoutNotPaid``; a repeat, or a webhook
    that came first, replays the row.
    """
    paid = gateway.paid_session(session_id, owner=user_id)
    return credit_paid_session(service, paid, tenant=tenant, via=via)


def credit_paid_session(service: CreditsService, paid: PaidSession, *, tenant: str, via: str) -> TopUpResult:
    """Credit a paid session's pack to its user's purchased bucket, once per session.

    The credits, price and currency are the ones stored in the session when it
    was created, so a registry change after checkout cannot alter a payment.
    A session created for another tenant is ``CheckoutNotFound``.
    """
    if paid.tenant != tenant:
        raise CheckoutNotFound(reason="other_tenant")
    result = service.top_up(
        paid.user_id,
        paid.pack_id,
        paid.session_id,
        credits=paid.credits,
        price=paid.amount_total,
        currency=paid.currency,
        paymentIntent=paid.payment_intent,
        checkoutRegistryVersion=paid.registry_version,
        via=via,
    )
    if not result.replayed:
        log.info("top-up %s credited: %s credits to %s (via %s)", paid.session_id, paid.credits, paid.user_id, via)
    return result


def handle_webhook_event(service: CreditsService, event: WebhookEvent, *, tenant: str) -> dict[str, Any]:
    """What a verified webhook event does to the ledger; the route's 200 answer."""
    if event.paid is not None:
        try:
            result = credit_paid_session(service, event.paid, tenant=tenant, via="webhook")
        except CheckoutNotFound:
            return {"received": True, "action": "ignored", "sessionId": event.paid.session_id}
        action = "replayed" if result.replayed else "credited"
        return {"received": True, "action": action, "sessionId": event.paid.session_id}
    if event.type in (EVENT_CHECKOUT_COMPLETED, EVENT_ASYNC_PAYMENT_SUCCEEDED):
        # Completed but the payment is still processing: async_payment_succeeded follows.
        return {"received": True, "action": "pending", "sessionId": event.session_id}
    if event.refund is not None:
        row = record_charge_refund(service, event.refund)
        return {"received": True, "action": "refund_recorded" if row is not None else "ignored"}
    return {"received": True, "action": "ignored"}


def find_topup_by_payment_intent(service: CreditsService, payment_intent: str) -> Row | None:
    """The top-up row paid by ``payment_intent`` (scans top-up rows: refunds are rare)."""
    for row in service.store.rows(RowFilter(kinds=("topup",))):
        if row.meta.get("paymentIntent") == payment_intent:
            return row
    return None


def record_charge_refund(service: CreditsService, refund: ChargeRefund) -> Row | None:
    """Take a refunded top-up's credits back (see module docstring); None when not ours."""
    if not refund.payment_intent or refund.amount <= 0:
        return None
    topup = find_topup_by_payment_intent(service, refund.payment_intent)
    if topup is None:
        log.info("charge.refunded for %s matches no top-up; ignored", refund.charge_id)
        return None
    credits = int(topup.meta.get("credits", topup.delta))
    refunded = min(refund.amount_refunded, refund.amount)
    target = credits if refund.fully_refunded else credits * refunded // refund.amount
    key = f"{REFUND_KEY_PREFIX}:{refund.charge_id}:{refunded}"
    existing = service.store.find(keys.adjust_name(key))
    if existing is not None:
        return existing
    prefix = keys.adjust_name(f"{REFUND_KEY_PREFIX}:{refund.charge_id}:")
    earlier = service.store.rows(RowFilter(user_id=topup.user_id, kinds=("adjust",)))
    taken = -sum(r.delta for r in earlier if r.name.startswith(prefix))
    wanted = max(0, target - taken)
    for _attempt in range(3):
        left = service.store.account(topup.user_id).balance.purchased
        take = min(wanted, left)
        # Most telling first: the service keeps 200 characters of a reason.
        reason = f"stripe refund of charge {refund.charge_id}: -{take} of {wanted} credits"
        if take < wanted:
            reason += f", short {wanted - take} (already spent)"
        reason += f"; {refunded}/{refund.amount} {refund.currency} refunded"
        try:
            row = service.adjust(topup.user_id, key, -take, "purchased", reason).row
        except BadRequest:
            continue  # the bucket shrank meanwhile (a debit): read it again
        log.info("refund of charge %s recorded for %s: %s", refund.charge_id, topup.user_id, row.meta.get("reason"))
        return row
    raise Conflict("the purchased balance kept changing while recording the refund; retry")
