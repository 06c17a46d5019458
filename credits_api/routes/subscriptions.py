"""Plans as Stripe subscriptions: subscribe / change / cancel, and the return from Checkout.

The ledger's plan is never written here: it moves when Stripe confirms
(``credits_core.payments.plan_sync``: the webhook, the confirm below, the
Account page). Without ``STRIPE_SECRET_KEY`` both routes answer 503
``payments_disabled``; a plan is then changed by an admin (``/api/credits-plan``).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from credits_core.auth import Principal
from credits_core.errors import PaymentsDisabled
from credits_core.payments.plan_sync import confirm_subscription_checkout, request_plan
from credits_core.payments.subscriptions import StripeSubscriptions

from ..auth import current_user
from ..context import api_context, service, settings
from ..openapi import error_responses
from ..schemas import BalanceOut, ConfirmIn

router = APIRouter(tags=["subscriptions"])


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"plan": "intelligence"}, {"plan": "none"}]}
    )

    plan: str = Field(min_length=1, max_length=64, description="a registry plan id, or `none` to cancel at period end")


class PreviewOut(BaseModel):
    """The dry-run of the plan change Stripe's confirmation will cause."""

    model_config = ConfigDict(extra="forbid")

    granted: int
    trimmed: int
    balance: BalanceOut
    softCap: int
    monthlyIncluded: int


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["checkout", "updated", "cancel_at_period_end", "unchanged"]
    plan: str
    currentPlan: str = Field(description="the plan the ledger has now")
    message: str
    preview: PreviewOut
    url: str | None = Field(default=None, description="`checkout`: send the browser here (Stripe-hosted Checkout)")
    sessionId: str | None = None
    subscriptionId: str | None = None
    cancelAtPeriodEnd: bool | None = None
    currentPeriodEnd: int | None = Field(default=None, description="Unix time the paid period ends")


class SubscriptionSyncOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["changed", "replayed", "unchanged", "ignored"]
    plan: str | None
    subscriptionId: str | None
    granted: int | None = None
    trimmed: int | None = None
    balance: BalanceOut | None = None


def subscriptions_of(request: Request) -> StripeSubscriptions:
    """The subscriptions gateway; ``PaymentsDisabled`` without Stripe keys."""
    gateway = api_context(request).gateway
    if gateway is None:
        raise PaymentsDisabled(
            "Payments are not enabled on this server (STRIPE_SECRET_KEY is not set); plan changes are made by an admin."
        )
    return StripeSubscriptions(gateway)


@router.post(
    "/credits-subscription",
    response_model=SubscriptionOut,
    responses=error_responses(401, 409, 502),
    summary="Subscribe to a plan (Stripe Checkout), change the subscription, or cancel it at period end",
)
def credits_subscription(
    request: Request, body: SubscriptionIn, user: Principal = Depends(current_user)
) -> JSONResponse:
    """No active subscription → ``checkout`` with ``{url, sessionId}`` (Checkout in subscription mode).

    A subscriber → Stripe's subscription moves to the plan's monthly price
    (prorated) → ``updated`` with the dry-run of the credits it will grant or
    trim; the plan changes when Stripe confirms. ``{"plan": "none"}`` →
    ``cancel_at_period_end`` (409 ``no_subscription`` without one).
    """
    subs = subscriptions_of(request)
    answer = request_plan(service(), subs, user.user_id, body.plan, tenant=settings().tenant, email=_email(user))
    return JSONResponse(answer.to_dict())


@router.post(
    "/credits-subscription/confirm",
    response_model=SubscriptionSyncOut,
    responses=error_responses(401, 403, 404, 409, 502),
    summary="Back from a subscription Checkout: move the plan to the subscription (once)",
)
def credits_subscription_confirm(
    request: Request, body: ConfirmIn, user: Principal = Depends(current_user)
) -> JSONResponse:
    """Read the session and its subscription from Stripe; the plan follows it once.

    Not completed → 409 ``checkout_not_paid``; another user's → 403; unknown
    or not a plan subscription → 404. A repeat, or a webhook that came first,
    is ``replayed`` or ``unchanged``.
    """
    result = confirm_subscription_checkout(
        service(), subscriptions_of(request), user.user_id, body.sessionId, tenant=settings().tenant, via="confirm"
    )
    return JSONResponse(result.to_dict())


def _email(user: Principal) -> str | None:
    email: Any = user.claims.get("email")
    return email if isinstance(email, str) and "@" in email and len(email) <= 254 else None
