"""What Stripe sends, as the app's own shapes: Checkout Sessions, paid sessions, refunds, verified events.

Pure parsing of Stripe objects (no network): ``paid_from`` reads a Checkout
Session the gateway created, ``event_from`` a verified Event envelope
(https://docs.stripe.com/api/events/types). The gateway (``stripe_gateway``)
does the HTTP and the signature check and hands the JSON here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import WebhookInvalid

EVENT_CHECKOUT_COMPLETED = "checkout.session.completed"
EVENT_ASYNC_PAYMENT_SUCCEEDED = "checkout.session.async_payment_succeeded"
EVENT_CHARGE_REFUNDED = "charge.refunded"
# Every value the gateway stores in session metadata (all strings on the wire).
METADATA_KEYS = ("user_id", "pack_id", "credits", "registry_version", "tenant")


@dataclass(frozen=True)
class CheckoutSession:
    """A created Checkout Session: send the browser to ``url``."""

    id: str
    url: str


@dataclass(frozen=True)
class PaidSession:
    """A paid top-up session, with what the gateway stored in its metadata."""

    session_id: str
    user_id: str
    pack_id: str
    credits: int
    amount_total: int
    currency: str
    registry_version: int
    tenant: str
    payment_intent: str | None
    payment_status: str = "paid"  # or "no_payment_required" (a 100 % discount)


@dataclass(frozen=True)
class ChargeRefund:
    """A refunded (fully or partly) charge; match it to a top-up by payment_intent."""

    charge_id: str
    payment_intent: str | None
    amount: int
    amount_refunded: int
    currency: str

    @property
    def fully_refunded(self) -> bool:
        """True when the whole charge has been refunded."""
        return self.amount_refunded >= self.amount


@dataclass(frozen=True)
class WebhookEvent:
    """A verified event the app acts on.

    ``paid`` is set when a checkout session of ours is paid (credit it);
    a ``checkout.session.completed`` whose payment is still processing has
    ``paid=None`` (wait for ``async_payment_succeeded``). ``refund`` is set for
    ``charge.refunded``.
    """

    id: str
    type: str
    created: int
    livemode: bool
    session_id: str | None = None
    paid: PaidSession | None = None
    refund: ChargeRefund | None = None
    # customer.subscription.*, invoice.* of a subscription, or a subscription-mode
    # Checkout Session: the subscription to read back (``payments.plan_sync``).
    subscription_id: str | None = None


class NotOurs(Exception):
    """The session is not a top-up created by this gateway."""


def as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise NotOurs
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,18}", value):
        return int(value)
    raise NotOurs


def paid_from(session: Mapping[str, Any]) -> PaidSession | None:
    """A PaidSession if ``session`` is a paid top-up of ours; None if unpaid.

    Raises ``NotOurs`` for a session this gateway did not create."""
    if session.get("object") != "checkout.session" or session.get("mode") != "payment":
        raise NotOurs
    meta = session.get("metadata")
    if not isinstance(meta, Mapping) or any(not isinstance(meta.get(k), str) or not meta.get(k) for k in METADATA_KEYS):
        raise NotOurs
    credits, version = as_int(meta["credits"]), as_int(meta["registry_version"])
    if credits <= 0:
        raise NotOurs
    status, payment_status = session.get("status"), session.get("payment_status")
    if status != "complete" or payment_status not in ("paid", "no_payment_required"):
        return None
    sid = session.get("id")
    if not isinstance(sid, str):
        raise NotOurs
    pi = session.get("payment_intent")
    if isinstance(pi, Mapping):  # expanded
        pi = pi.get("id")
    return PaidSession(
        session_id=sid,
        user_id=meta["user_id"],
        pack_id=meta["pack_id"],
        credits=credits,
        amount_total=as_int(session.get("amount_total") or 0),
        currency=str(session.get("currency") or ""),
        registry_version=version,
        tenant=meta["tenant"],
        payment_intent=pi if isinstance(pi, str) else None,
        payment_status=str(payment_status),
    )


def event_from(event: Mapping[str, Any]) -> WebhookEvent | None:
    """The typed event for a verified Event envelope, or None when ignored."""
    etype, eid = event.get("type"), event.get("id")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if event.get("object") != "event" or not isinstance(etype, str) or not isinstance(eid, str):
        raise WebhookInvalid("The webhook body is not a Stripe event.", reason="malformed")
    if not isinstance(obj, Mapping):
        raise WebhookInvalid("The webhook event has no data object.", reason="malformed")
    base = {
        "id": eid,
        "type": etype,
        "created": event.get("created") if isinstance(event.get("created"), int) else 0,
        "livemode": bool(event.get("livemode")),
    }
    subscription_id = _subscription_of(etype, obj)
    if subscription_id is not None:
        session_id = _str_or_none(obj.get("id")) if obj.get("object") == "checkout.session" else None
        return WebhookEvent(**base, session_id=session_id, subscription_id=subscription_id)
    if etype in (EVENT_CHECKOUT_COMPLETED, EVENT_ASYNC_PAYMENT_SUCCEEDED):
        try:
            paid = paid_from(obj)
        except NotOurs:
            return None  # another integration's session on the same account
        return WebhookEvent(**base, session_id=str(obj.get("id")), paid=paid)
    if etype == EVENT_CHARGE_REFUNDED:
        if obj.get("object") != "charge" or not isinstance(obj.get("id"), str):
            raise WebhookInvalid("The charge.refunded event carries no charge.", reason="malformed")
        pi = obj.get("payment_intent")
        if isinstance(pi, Mapping):
            pi = pi.get("id")
        try:
            refund = ChargeRefund(
                charge_id=obj["id"],
                payment_intent=pi if isinstance(pi, str) else None,
                amount=as_int(obj.get("amount") or 0),
                amount_refunded=as_int(obj.get("amount_refunded") or 0),
                currency=str(obj.get("currency") or ""),
            )
        except NotOurs:
            raise WebhookInvalid("The charge.refunded event is malformed.", reason="malformed") from None
        return WebhookEvent(**base, refund=refund)
    return None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _subscription_of(etype: str, obj: Mapping[str, Any]) -> str | None:
    """The subscription a subscription event is about, else None.

    ``customer.subscription.*`` carries the subscription; an ``invoice.*``
    names it in ``parent.subscription_details.subscription`` (API 2025-03-31.basil
    and later; top-level ``subscription`` before); a completed
    ``mode=subscription`` Checkout Session in ``subscription``
    (https://docs.stripe.com/billing/subscriptions/webhooks)."""
    if etype.startswith("customer.subscription.") and obj.get("object") == "subscription":
        sid: Any = obj.get("id")
    elif etype.startswith("invoice.") and obj.get("object") == "invoice":
        parent = obj.get("parent")
        details = parent.get("subscription_details") if isinstance(parent, Mapping) else None
        sid = details.get("subscription") if isinstance(details, Mapping) else obj.get("subscription")
    elif etype == EVENT_CHECKOUT_COMPLETED and obj.get("mode") == "subscription":
        sid = obj.get("subscription")
    else:
        return None
    if isinstance(sid, Mapping):  # expanded
        sid = sid.get("id")
    return sid if isinstance(sid, str) and sid.startswith("sub_") else None
