"""Top-up packs through Stripe Checkout: create, confirm, webhook.

Without ``STRIPE_SECRET_KEY`` all three answer 503 ``payments_disabled``;
the webhook also needs ``STRIPE_WEBHOOK_SECRET``. Stripe failures are 502
``payment_provider_error`` with a ``reason`` and nothing is credited.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from credits_core.auth import Principal
from credits_core.errors import PaymentsDisabled
from credits_core.payments import StripeGateway
from credits_core.payments.flow import confirm_checkout, handle_webhook_event, start_checkout
from credits_core.payments.plan_sync import handle_subscription_event
from credits_core.payments.subscriptions import StripeSubscriptions

from ..auth import current_user
from ..context import api_context, service, settings
from ..openapi import error_responses
from ..schemas import KEY_PATTERN, CheckoutIn, CheckoutOut, ConfirmIn, LedgerChangeOut, WebhookOut

router = APIRouter(tags=["payments"])


def _gateway(request: Request) -> StripeGateway:
    gateway = api_context(request).gateway
    if gateway is None:
        raise PaymentsDisabled("Payments are not enabled on this server (STRIPE_SECRET_KEY is not set).")
    return gateway


@router.post(
    "/credits-checkout",
    response_model=CheckoutOut,
    responses=error_responses(401, 409, 502),
    summary="Start a Stripe Checkout for a top-up pack",
)
def credits_checkout(
    request: Request,
    body: CheckoutIn,
    user: Principal = Depends(current_user),
    idempotency_key: str | None = Header(
        None,
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        description="retrying with the same key returns the same Checkout Session",
    ),
) -> JSONResponse:
    """Create a Checkout Session for ``pack`` priced from the registry → ``{url, sessionId}``."""
    session = start_checkout(
        service(),
        _gateway(request),
        user.user_id,
        body.pack,
        tenant=settings().tenant,
        attempt_key=idempotency_key,
        email=_email(user),
    )
    return JSONResponse({"url": session.url, "sessionId": session.id})


@router.post(
    "/credits-checkout/confirm",
    response_model=LedgerChangeOut,
    responses=error_responses(401, 403, 404, 409, 502),
    summary="Credit a paid Checkout Session of the caller (once)",
)
def credits_checkout_confirm(
    request: Request, body: ConfirmIn, user: Principal = Depends(current_user)
) -> JSONResponse:
    """Read the session from Stripe; if paid and the caller's, credit it once.

    Unpaid, expired or processing → 409 ``checkout_not_paid``; another user's
    session → 403; unknown → 404. A repeat (or a webhook that came first)
    answers the same row with ``replayed: true``.
    """
    result = confirm_checkout(
        service(), _gateway(request), user.user_id, body.sessionId, tenant=settings().tenant, via="confirm"
    )
    return JSONResponse(result.to_dict())


@router.post(
    "/stripe-webhook",
    response_model=WebhookOut,
    responses=error_responses(409),
    summary="Stripe webhook endpoint (Stripe-Signature)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A Stripe Event, byte for byte as Stripe sent it",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def stripe_webhook(
    request: Request,
    stripe_signature: str | None = Header(
        None, alias="Stripe-Signature", description="`t=<unix time>,v1=<HMAC-SHA256>` (required)"
    ),
) -> JSONResponse:
    """Verify the signature on the raw body, then act on the event.

    ``checkout.session.completed`` / ``async_payment_succeeded`` of a paid
    session → credited once (the confirm route's path); ``charge.refunded`` →
    the session settled net of its refunds, credited or taken back
    (``credits_core.payments.refund_sync``); ``customer.subscription.*``,
    ``invoice.*`` of a plan subscription and a completed subscription Checkout
    → the plan follows the subscription as Stripe has it now
    (``credits_core.payments.plan_sync``); other events → 200
    ``ignored``. Bad / missing / stale signature or a malformed body → 400
    ``webhook_invalid`` and nothing is credited (Stripe, "Verify webhook
    signatures", https://docs.stripe.com/webhooks#verify-events).
    """
    gateway = _gateway(request)
    payload = await request.body()  # raw bytes: the signature covers them exactly
    return JSONResponse(await run_in_threadpool(_webhook, gateway, payload, stripe_signature))


def _webhook(gateway: StripeGateway, payload: bytes, signature: str | None) -> dict[str, Any]:
    event = gateway.parse_webhook(payload, signature)
    if event is None:
        return {"received": True, "action": "ignored"}
    if event.subscription_id is not None:  # customer.subscription.*, invoice.*, subscription Checkout
        return handle_subscription_event(service(), StripeSubscriptions(gateway), event, tenant=settings().tenant)
    return handle_webhook_event(service(), event, tenant=settings().tenant, gateway=gateway)


def _email(user: Principal) -> str | None:
    email = user.claims.get("email")
    return email if isinstance(email, str) and "@" in email and len(email) <= 254 else None
