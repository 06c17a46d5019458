"""Stripe subscriptions for plans: Checkout in subscription mode, read, change, cancel.

Uses the :class:`~.stripe_gateway.StripeGateway`'s ``StripeClient`` (same
key, base address, timeout and retries). Knows nothing of the ledger:
``plan_sync`` moves the ledger's plan to what :meth:`StripeSubscriptions.retrieve`
answers.

What the gateway stores at Stripe (all strings) — in the Checkout Session's
``metadata`` and ``subscription_data[metadata]``, so the subscription carries
them: ``user_id``, ``plan_id``, ``registry_version``, ``tenant``, ``kind`` =
``plan``; ``client_reference_id`` is the user id. A change of plan rewrites
``plan_id`` / ``registry_version`` together with the item's price, in one
update. Stripe API shapes: https://docs.stripe.com/api/checkout/sessions/create
(``line_items[][price_data][recurring][interval]``, ``subscription_data[metadata]``),
https://docs.stripe.com/api/subscriptions/update (``items[0][id]`` +
``items[0][price_data]`` with the product id, ``proration_behavior``,
``cancel_at_period_end``).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import stripe

from ..errors import BadRequest, CheckoutNotFound, CheckoutNotPaid, Forbidden, PaymentsUnavailable, SubscriptionNotFound
from .events import CheckoutSession
from .stripe_gateway import StripeGateway, provider_error

__all__ = [
    "ACTIVE_STATUSES",
    "PRORATION_BEHAVIOR",
    "StripeSubscriptions",
    "Subscription",
]

# Statuses in which the customer keeps the plan: ``past_due`` is Stripe retrying a
# failed renewal (https://docs.stripe.com/billing/subscriptions/overview#subscription-statuses);
# ``canceled``, ``unpaid``, ``incomplete``, ``incomplete_expired`` and ``paused`` do not.
ACTIVE_STATUSES = ("active", "trialing", "past_due")
# Stripe's default: the difference is credited / charged on the next invoice.
PRORATION_BEHAVIOR = "create_prorations"
KIND = "plan"
_SUB_ID = re.compile(r"^sub_[A-Za-z0-9_]{1,250}$")
_SESSION_ID = re.compile(r"^cs_[A-Za-z0-9_]{1,250}$")
_META_KEYS = ("user_id", "plan_id", "registry_version", "tenant")


@dataclass(frozen=True)
class Subscription:
    """The present state of a plan subscription at Stripe."""

    id: str
    user_id: str
    plan_id: str
    tenant: str
    registry_version: int
    status: str
    cancel_at_period_end: bool
    current_period_end: int | None
    customer: str | None
    item_id: str
    product: str
    unit_amount: int
    currency: str

    @property
    def active(self) -> bool:
        """True while the customer keeps the plan (see ``ACTIVE_STATUSES``)."""
        return self.status in ACTIVE_STATUSES


class StripeSubscriptions:
    """Plan subscriptions through the gateway's ``StripeClient``."""

    def __init__(self, gateway: StripeGateway) -> None:
        self._gateway = gateway
        self._client = gateway.client
        self.public_app_url = gateway.public_app_url

    def create_checkout(
        self,
        *,
        user_id: str,
        plan_id: str,
        plan_label: str,
        unit_amount: int,
        currency: str,
        registry_version: int,
        tenant: str,
        customer_email: str | None = None,
    ) -> CheckoutSession:
        """A ``mode=subscription`` Checkout Session for a monthly price of the plan."""
        if not user_id or not plan_id or not plan_label or not tenant:
            raise BadRequest("user_id, plan_id, plan_label and tenant are required", field="plan")
        if not isinstance(unit_amount, int) or unit_amount < 0:
            raise BadRequest("unit_amount must be a non-negative integer (minor units)", field="price")
        meta = _metadata(user_id, plan_id, registry_version, tenant)
        app = self.public_app_url
        params: dict[str, Any] = {
            "mode": "subscription",
            "line_items": [
                {
                    "price_data": {
                        "currency": currency.lower(),
                        "unit_amount": unit_amount,
                        "product_data": {"name": f"{plan_label} plan"},
                        "recurring": {"interval": "month"},
                    },
                    "quantity": 1,
                }
            ],
            "client_reference_id": user_id,
            "metadata": meta,
            "subscription_data": {"metadata": meta},
            "success_url": f"{app}/account?subscription=success&session_id={{CHECKOUT_SESSION_ID}}",
            "cancel_url": f"{app}/account?subscription=cancel",
        }
        if customer_email:
            params["customer_email"] = customer_email
        attempt = "cz-subscribe-" + secrets.token_hex(16)
        try:
            session = self._client.v1.checkout.sessions.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": attempt},
            ).to_dict()
        except stripe.StripeError as e:
            raise provider_error(e, "start the subscription") from None
        sid, url = session.get("id"), session.get("url")
        if not isinstance(sid, str) or not isinstance(url, str) or not url:
            raise PaymentsUnavailable(reason="bad_response")
        return CheckoutSession(id=sid, url=url)

    def checkout_subscription(self, session_id: str, *, owner: str) -> str:
        """The subscription id of a completed plan Checkout Session of ``owner``.

        Another user's session → ``Forbidden`` (before anything else);
        open / expired → ``CheckoutNotPaid``; unknown or not a plan
        session → ``CheckoutNotFound``."""
        session = self._gateway.retrieve_session(session_id)
        meta = session.get("metadata") or {}
        if session.get("mode") != "subscription" or not isinstance(meta, Mapping) or meta.get("kind") != KIND:
            raise CheckoutNotFound(reason="not_a_plan_subscription")
        if meta.get("user_id") != owner:
            raise Forbidden("this checkout session belongs to another account")
        sub = session.get("subscription")
        if isinstance(sub, Mapping):
            sub = sub.get("id")
        if session.get("status") != "complete" or not isinstance(sub, str):
            reason = "expired" if session.get("status") == "expired" else "open"
            raise CheckoutNotPaid(
                "This subscription checkout expired before it was paid."
                if reason == "expired"
                else "This subscription checkout has not been completed yet.",
                reason=reason,
            )
        return sub

    def retrieve(self, subscription_id: str) -> Subscription:
        """The subscription as Stripe has it now; ``SubscriptionNotFound`` if unknown or not ours."""
        if not isinstance(subscription_id, str) or not _SUB_ID.match(subscription_id):
            raise SubscriptionNotFound(reason="bad_id")
        try:
            obj = self._client.v1.subscriptions.retrieve(subscription_id).to_dict()
        except stripe.InvalidRequestError as e:
            if e.http_status == 404 or e.code == "resource_missing":
                raise SubscriptionNotFound() from None
            raise provider_error(e, "read the subscription") from None
        except stripe.StripeError as e:
            raise provider_error(e, "read the subscription") from None
        return _subscription_from(obj)

    def change_plan(
        self,
        sub: Subscription,
        *,
        plan_id: str,
        plan_label: str,
        unit_amount: int,
        currency: str,
        registry_version: int,
    ) -> Subscription:
        """Move the subscription's item to the plan's monthly price, prorated, and
        un-cancel it; ``plan_id`` / ``registry_version`` in its metadata change too.
        ``plan_label`` names the product only when Checkout created it."""
        del plan_label  # the product stays the one Checkout created; the price changes
        params: dict[str, Any] = {
            "items": [
                {
                    "id": sub.item_id,
                    "price_data": {
                        "currency": currency.lower(),
                        "product": sub.product,
                        "unit_amount": unit_amount,
                        "recurring": {"interval": "month"},
                    },
                }
            ],
            "proration_behavior": PRORATION_BEHAVIOR,
            "metadata": {"plan_id": plan_id, "registry_version": str(registry_version)},
            "cancel_at_period_end": False,
        }
        return self._update(sub.id, params, "change the subscription")

    def cancel_at_period_end(self, sub: Subscription) -> Subscription:
        """Cancel when the paid period ends (the plan is kept until then)."""
        return self._update(sub.id, {"cancel_at_period_end": True}, "cancel the subscription")

    def _update(self, subscription_id: str, params: dict[str, Any], action: str) -> Subscription:
        # A fresh key per call: stripe-python's retries of this call reuse it, and
        # switching A→B→A must never replay an older update.
        options = {"idempotency_key": "cz-subupdate-" + secrets.token_hex(16)}
        try:
            obj = self._client.v1.subscriptions.update(
                subscription_id,
                params=params,  # type: ignore[arg-type]
                options=options,  # type: ignore[arg-type]
            ).to_dict()
        except stripe.InvalidRequestError as e:
            if e.http_status == 404 or (e.code == "resource_missing" and e.param == "id"):
                raise SubscriptionNotFound() from None
            raise provider_error(e, action) from None
        except stripe.StripeError as e:
            raise provider_error(e, action) from None
        return _subscription_from(obj)


def _metadata(user_id: str, plan_id: str, registry_version: int, tenant: str) -> dict[str, str]:
    return {
        "user_id": user_id,
        "plan_id": plan_id,
        "registry_version": str(registry_version),
        "tenant": tenant,
        "kind": KIND,
    }


def subscription_from(obj: Mapping[str, Any]) -> Subscription:
    """A listed subscription object as :class:`Subscription`; ``SubscriptionNotFound`` if not ours."""
    return _subscription_from(obj)


def _subscription_from(obj: Mapping[str, Any]) -> Subscription:
    """A :class:`Subscription` from Stripe's object; ``SubscriptionNotFound`` if not ours."""
    meta = obj.get("metadata")
    if obj.get("object") != "subscription" or not isinstance(meta, Mapping) or meta.get("kind") != KIND:
        raise SubscriptionNotFound(reason="not_a_plan_subscription")
    if any(not isinstance(meta.get(k), str) or not meta.get(k) for k in _META_KEYS):
        raise SubscriptionNotFound(reason="not_a_plan_subscription")
    items = (obj.get("items") or {}).get("data") or []
    item = items[0] if items and isinstance(items[0], Mapping) else {}
    price = item.get("price") if isinstance(item.get("price"), Mapping) else {}
    product = price.get("product")
    if isinstance(product, Mapping):
        product = product.get("id")
    # API 2025-03-31.basil moved the period to the items; older versions have it on top.
    period_end = item.get("current_period_end", obj.get("current_period_end"))
    customer = obj.get("customer")
    if isinstance(customer, Mapping):
        customer = customer.get("id")
    try:
        version = int(meta["registry_version"])
    except ValueError:
        raise SubscriptionNotFound(reason="not_a_plan_subscription") from None
    return Subscription(
        id=str(obj.get("id")),
        user_id=meta["user_id"],
        plan_id=meta["plan_id"],
        tenant=meta["tenant"],
        registry_version=version,
        status=str(obj.get("status")),
        cancel_at_period_end=bool(obj.get("cancel_at_period_end")),
        current_period_end=period_end if isinstance(period_end, int) else None,
        customer=customer if isinstance(customer, str) else None,
        item_id=str(item.get("id") or ""),
        product=str(product or ""),
        unit_amount=int(price.get("unit_amount") or 0),
        currency=str(price.get("currency") or obj.get("currency") or ""),
    )
