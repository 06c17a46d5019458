"""Payments: Stripe Checkout for top-up packs (``stripe_gateway``, ``flow``) and plans as
Stripe subscriptions (``subscriptions``, ``plan_sync``)."""

from ..errors import (
    CheckoutNotFound,
    CheckoutNotPaid,
    PaymentError,
    PaymentsDisabled,
    PaymentsUnavailable,
    WebhookInvalid,
)
from .events import (
    EVENT_ASYNC_PAYMENT_SUCCEEDED,
    EVENT_CHARGE_REFUNDED,
    EVENT_CHECKOUT_COMPLETED,
    ChargeRefund,
    CheckoutSession,
    PaidSession,
    WebhookEvent,
)
from .stripe_gateway import WEBHOOK_TOLERANCE_S, StripeGateway

__all__ = [
    "EVENT_ASYNC_PAYMENT_SUCCEEDED",
    "EVENT_CHARGE_REFUNDED",
    "EVENT_CHECKOUT_COMPLETED",
    "WEBHOOK_TOLERANCE_S",
    "ChargeRefund",
    "CheckoutNotFound",
    "CheckoutNotPaid",
    "CheckoutSession",
    "PaidSession",
    "PaymentError",
    "PaymentsDisabled",
    "PaymentsUnavailable",
    "StripeGateway",
    "WebhookEvent",
    "WebhookInvalid",
]
