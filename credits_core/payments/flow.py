"""Crediting Stripe payments to the ledger: one path for confirm and webhook.

``credit_paid_session`` is the only place a paid Checkout Session becomes a
``topup`` row. The confirm route (the browser coming back from Checkout) and
the webhook (``checkout.session.completed`` /
``checkout.session.async_payment_succeeded``) both call it; the row name
``CZ_SMCR|topup|<sessionId>`` makes it happen once whichever arrives first,
and the later one gets ``replayed: true`` (SPEC §4.7; Stripe, "Fulfill
orders": fulfilment must be idempotent because both paths and webhook
retries can deliver the same session, https://docs.stripe.com/checkout/fulfillment).

Refunds (``charge.refunded``) and refunds that come before the credit: every
path settles the session against the charge's refunded amount read from
Stripe, in one transaction (``refund_sync``; the rule is
``credits_core.policy.stripe_refunds``).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from typing import Any

from ..errors import CheckoutNotFound, IdempotencyConflict, PaymentsUnavailable
from ..models import TopUpResult
from ..policy.stripe_refunds import ChargeState
from ..service import CreditsService
from . import refund_sync
from .events import EVENT_ASYNC_PAYMENT_SUCCEEDED, EVENT_CHECKOUT_COMPLETED, CheckoutSession, PaidSession, WebhookEvent
from .stripe_gateway import StripeGateway

log = logging.getLogger("credits_core.payments")


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
    except PaymentsUnavailable as exc:
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
    return credit_paid_session(service, paid, refund_sync.session_charge(gateway, session_id), tenant=tenant, via=via)


def credit_paid_session(
    service: CreditsService, paid: PaidSession, charge: ChargeState | None, *, tenant: str, via: str
) -> TopUpResult:
    """Credit a paid session's pack to its user's purchased bucket, once per session.

    The credits, price and currency are the ones stored in the session when it
    was created, so a registry change after checkout cannot alter a payment;
    ``charge`` (read from Stripe) holds back what is refunded already.
    A session created for another tenant is ``CheckoutNotFound``.
    """
    return refund_sync.settle_paid_session(service, paid, charge, tenant=tenant, via=via).topup


def handle_webhook_event(
    service: CreditsService, event: WebhookEvent, *, tenant: str, gateway: StripeGateway
) -> dict[str, Any]:
    """What a verified webhook event does to the ledger; the route's 200 answer."""
    if event.paid is not None:
        try:
            charge = refund_sync.session_charge(gateway, event.paid.session_id) if event.paid.payment_intent else None
            result = credit_paid_session(service, event.paid, charge, tenant=tenant, via="webhook")
        except CheckoutNotFound:
            return {"received": True, "action": "ignored", "sessionId": event.paid.session_id}
        action = "replayed" if result.replayed else "credited"
        return {"received": True, "action": action, "sessionId": event.paid.session_id}
    if event.type in (EVENT_CHECKOUT_COMPLETED, EVENT_ASYNC_PAYMENT_SUCCEEDED):
        # Completed but the payment is still processing: async_payment_succeeded follows.
        return {"received": True, "action": "pending", "sessionId": event.session_id}
    if event.refund is not None:
        return refund_sync.settle_charge_refund(service, gateway, event.refund, tenant=tenant)
    return {"received": True, "action": "ignored"}
