"""Stripe Checkout for top-up packs, through the official ``stripe`` library.

The gateway creates Checkout Sessions, reads back whether one was paid, and
verifies webhooks. It knows nothing of the ledger: the service credits a
:class:`PaidSession` once per session id (SPEC §4.7), whichever of the confirm
route or the webhook brings it first.

Production and tests take the same code path: ``StripeClient(api_key,
base_addresses={"api": api_base})`` talks to ``api.stripe.com`` unless
``STRIPE_API_BASE`` points it elsewhere (stripe-python 16,
``stripe/_stripe_client.py``: ``base_addresses`` overrides the default
``api`` / ``connect`` / ``files`` bases).

Errors, all ``credits_core.errors.CreditsError`` (``code`` → HTTP status):

    PaymentError                      (base of the ones below)
    ├── PaymentsDisabled       503 payments_disabled       no STRIPE_SECRET_KEY / webhook secret
    ├── PaymentProviderError   502 payment_provider_error  Stripe unreachable, 5xx, bad key,
    │                                                      rejected request (``reason`` says which)
    ├── CheckoutNotPaid        409 checkout_not_paid       open, expired or still processing
    ├── CheckoutNotFound       404 checkout_not_found      unknown id, or not one of ours
    └── WebhookInvalid         400 webhook_invalid         bad / missing / stale signature, bad JSON

Messages are written for end users and never carry the secret key, Stripe's
own error text (a 401 quotes the masked key) or a provider payload; ``reason``
and ``param`` details name what went wrong, and ``provider_request_id`` (an
attribute, not part of the API body) ties a failure to Stripe's request log.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import stripe

from ..config import Settings
from ..errors import BadRequest, ConfigError, Conflict, CreditsError, Forbidden, NotFound

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
    "PaymentProviderError",
    "PaymentsDisabled",
    "StripeGateway",
    "WebhookEvent",
    "WebhookInvalid",
]

EVENT_CHECKOUT_COMPLETED = "checkout.session.completed"
EVENT_ASYNC_PAYMENT_SUCCEEDED = "checkout.session.async_payment_succeeded"
EVENT_CHARGE_REFUNDED = "charge.refunded"
# Stripe's own default (stripe.Webhook.DEFAULT_TOLERANCE, 300 s): older signed
# timestamps are refused to stop replays (https://docs.stripe.com/webhooks).
WEBHOOK_TOLERANCE_S = 300

# Checkout Session ids look like ``cs_test_a1B2...`` / ``cs_live_...``.
_SESSION_ID = re.compile(r"^cs_[A-Za-z0-9_]{1,250}$")
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
# Stripe idempotency keys are up to 255 characters
# (https://docs.stripe.com/api/idempotent_requests).
_MAX_IDEMPOTENCY_KEY = 255
# Every value the gateway stores in session metadata (all strings on the wire).
_METADATA_KEYS = ("user_id", "pack_id", "credits", "registry_version", "tenant")


# -- errors ---------------------------------------------------------------------------


class PaymentError(CreditsError):
    """Base of payment errors: a stable ``code``, an HTTP status, a safe message."""

    code, http_status = "payment_error", 502
    default_message = "The payment could not be processed."

    def __init__(self, message: str | None = None, **details: Any) -> None:
        super().__init__(message or self.default_message, **details)


class PaymentsDisabled(PaymentError):
    """Stripe is not configured (no secret key, or no webhook secret for webhooks)."""

    code, http_status = "payments_disabled", 503
    default_message = "Payments are not enabled on this server."


class PaymentProviderError(PaymentError):
    """Stripe could not be reached or refused the request; ``reason`` says which."""

    code, http_status = "payment_provider_error", 502
    default_message = "The payment provider is unavailable right now. Please try again."

    def __init__(
        self,
        message: str | None = None,
        *,
        provider_error: str | None = None,
        provider_request_id: str | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, **details)
        # For logs only: the stripe exception class and Stripe's request id.
        self.provider_error = provider_error
        self.provider_request_id = provider_request_id


class CheckoutNotPaid(PaymentError, Conflict):
    """The session exists but is not paid: open, expired, or still processing."""

    code, http_status = "checkout_not_paid", 409
    default_message = "This checkout has not been paid."


class CheckoutNotFound(PaymentError, NotFound):
    """No such Checkout Session, or one this app did not create."""

    code, http_status = "checkout_not_found", 404
    default_message = "No such checkout session."


class WebhookInvalid(PaymentError, BadRequest):
    """The webhook's signature, timestamp or body is not acceptable."""

    code, http_status = "webhook_invalid", 400
    default_message = "The webhook could not be verified."


# -- values ---------------------------------------------------------------------------


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


class _NotOurs(Exception):
    """The session is not a top-up created by this gateway."""


# -- the gateway ----------------------------------------------------------------------


def _http_url(value: str, name: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"{name} must be an http(s) URL without query or fragment", variable=name)
    return value.rstrip("/")


class StripeGateway:
    """Stripe Checkout for top-up packs; free of ledger logic."""

    def __init__(
        self,
        secret_key: str,
        *,
        webhook_secret: str | None,
        api_base: str | None,
        public_app_url: str,
        timeout_s: float = 10,
        max_network_retries: int = 2,
        webhook_tolerance_s: int = WEBHOOK_TOLERANCE_S,
    ) -> None:
        """Build a client; ``api_base`` (``STRIPE_API_BASE``) overrides api.stripe.com.

        Raises ``ConfigError`` naming the variable for a bad key or URL (never
        echoing the key)."""
        if not secret_key or not re.match(r"^(sk|rk)_", secret_key):
            raise ConfigError(
                "STRIPE_SECRET_KEY must be a Stripe secret key (sk_...) or restricted key (rk_...)",
                variable="STRIPE_SECRET_KEY",
            )
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.public_app_url = _http_url(public_app_url, "CZ_PUBLIC_APP_URL")
        self.api_base = _http_url(api_base, "STRIPE_API_BASE") if api_base else None
        self._webhook_secret = webhook_secret or None
        self._tolerance = webhook_tolerance_s
        try:
            # stripe-python's requests-based client, with our timeout. (Its httpx
            # client posts a str body that httpx 0.28 deprecates.)
            http_client: stripe.HTTPClient = stripe.RequestsClient(timeout=timeout_s)
        except ImportError:  # pragma: no cover - requests ships with streamlit
            http_client = stripe.new_default_http_client()
        # Retries are safe: every POST carries an idempotency key and stripe-python
        # retries only connection errors, 409 and 5xx.
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": self.api_base} if self.api_base else None,
            http_client=http_client,
            max_network_retries=max_network_retries,
        )

    def __repr__(self) -> str:
        return f"StripeGateway(api_base={self.api_base!r}, public_app_url={self.public_app_url!r})"

    @property
    def client(self) -> stripe.StripeClient:
        """The configured ``StripeClient`` (``payments.subscriptions`` uses it too)."""
        return self._client

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeGateway | None:
        """The gateway of the app's validated settings (API and pages alike);
        ``None`` when payments are disabled."""
        if not settings.stripe_secret_key:
            return None
        try:
            return cls(
                settings.stripe_secret_key,
                webhook_secret=settings.stripe_webhook_secret,
                api_base=settings.stripe_api_base,
                public_app_url=settings.public_app_url,
            )
        except ValueError as exc:  # the message names the variable, never the key
            raise ConfigError(str(exc), variable=str(exc).split(" ", 1)[0]) from None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StripeGateway | None:
        """The gateway configured by ``STRIPE_*`` / ``CZ_PUBLIC_APP_URL``; ``None``
        when ``STRIPE_SECRET_KEY`` is unset (payments disabled). A bad value is a
        ``ConfigError`` naming the variable."""
        env = os.environ if env is None else env
        key = (env.get("STRIPE_SECRET_KEY") or "").strip()
        if not key:
            return None
        app_url = (env.get("CZ_PUBLIC_APP_URL") or "").strip()
        if not app_url:
            raise ConfigError(
                "CZ_PUBLIC_APP_URL must be set when STRIPE_SECRET_KEY is set", variable="CZ_PUBLIC_APP_URL"
            )
        return cls(
            key,
            webhook_secret=(env.get("STRIPE_WEBHOOK_SECRET") or "").strip() or None,
            api_base=(env.get("STRIPE_API_BASE") or "").strip() or None,
            public_app_url=app_url,
        )

    @property
    def webhooks_enabled(self) -> bool:
        """True when a webhook signing secret is configured."""
        return self._webhook_secret is not None

    # -- checkout --------------------------------------------------------------------

    def create_checkout(
        self,
        *,
        user_id: str,
        pack_id: str,
        pack_label: str,
        credits: int,
        unit_amount: int,
        currency: str,
        registry_version: int,
        tenant: str,
        attempt_id: str,
        customer_email: str | None = None,
    ) -> CheckoutSession:
        """Create a one-item ``payment`` Checkout Session for a pack.

        ``attempt_id`` is Stripe's idempotency key: a retry of the same attempt
        returns the same session; reusing it for another purchase is refused
        (``payment_provider_error``, reason ``idempotency_conflict``)."""
        if not user_id or not pack_id or not pack_label or not tenant:
            raise ValueError("user_id, pack_id, pack_label and tenant are required")
        if not isinstance(credits, int) or credits <= 0:
            raise ValueError("credits must be a positive integer")
        if not isinstance(unit_amount, int) or unit_amount < 0:
            raise ValueError("unit_amount must be a non-negative integer (minor units)")
        if not _CURRENCY.match(currency or ""):
            raise ValueError("currency must be a three-letter ISO code")
        if not attempt_id or len(attempt_id) > _MAX_IDEMPOTENCY_KEY:
            raise ValueError("attempt_id must be 1-255 characters")
        app = self.public_app_url
        params: dict[str, Any] = {
            "mode": "payment",
            # Sent as line_items[0][price_data][product_data][name]=... (form encoding,
            # https://docs.stripe.com/api/checkout/sessions/create).
            "line_items": [
                {
                    "price_data": {
                        "currency": currency.lower(),
                        "unit_amount": unit_amount,
                        "product_data": {"name": pack_label},
                    },
                    "quantity": 1,
                }
            ],
            "client_reference_id": user_id,
            "metadata": {
                "user_id": user_id,
                "pack_id": pack_id,
                "credits": str(credits),
                "registry_version": str(registry_version),
                "tenant": tenant,
            },
            # {CHECKOUT_SESSION_ID} is a literal template Stripe fills in on redirect
            # (https://docs.stripe.com/payments/checkout/custom-success-page).
            "success_url": f"{app}/account?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
            "cancel_url": f"{app}/account?checkout=cancel",
        }
        if customer_email:
            params["customer_email"] = customer_email
        try:
            session = self._client.v1.checkout.sessions.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": attempt_id},
            ).to_dict()  # StripeObject is not a dict in stripe-python 16
        except stripe.StripeError as e:
            raise _provider_error(e, "create the checkout") from None
        sid, url = session.get("id"), session.get("url")
        if not isinstance(sid, str) or not isinstance(url, str) or not url:
            raise PaymentProviderError(reason="bad_response")
        return CheckoutSession(id=sid, url=url)

    def paid_session(self, session_id: str, *, owner: str | None = None) -> PaidSession:
        """Retrieve a session and return it if paid.

        With ``owner``, a session bought by another user is ``Forbidden``
        before anything else is said about it (not even whether it is paid).

        Paid means ``status == "complete"`` and ``payment_status`` is not
        ``unpaid`` (Stripe's fulfillment rule, https://docs.stripe.com/checkout/fulfillment).
        Raises ``CheckoutNotPaid`` (open / expired / processing),
        ``CheckoutNotFound`` (unknown, or not a top-up of this app) or
        ``PaymentProviderError``."""
        if not isinstance(session_id, str) or not _SESSION_ID.match(session_id):
            raise CheckoutNotFound(reason="bad_id")
        try:
            session = self._client.v1.checkout.sessions.retrieve(session_id).to_dict()
        except stripe.InvalidRequestError as e:
            if e.http_status == 404 or e.code == "resource_missing":
                raise CheckoutNotFound() from None
            raise _provider_error(e, "read the checkout") from None
        except stripe.StripeError as e:
            raise _provider_error(e, "read the checkout") from None
        try:
            paid = _paid_from(session)
        except _NotOurs:
            raise CheckoutNotFound(reason="not_a_top_up") from None
        if owner is not None and (session.get("metadata") or {}).get("user_id") != owner:
            raise Forbidden("this checkout session belongs to another account")
        if paid is None:
            status, payment_status = session.get("status"), session.get("payment_status")
            reason = {"open": "open", "expired": "expired"}.get(str(status), "processing")
            message = {
                "open": "This checkout has not been paid yet.",
                "expired": "This checkout expired before it was paid.",
                "processing": "The payment for this checkout is still processing.",
            }[reason]
            raise CheckoutNotPaid(message, reason=reason, sessionStatus=status, paymentStatus=payment_status)
        return paid

    # -- webhooks --------------------------------------------------------------------

    def parse_webhook(self, payload: bytes, signature_header: str | None) -> WebhookEvent | None:
        """Verify a webhook with stripe's own verifier and return what to act on.

        ``payload`` is the raw request body, byte for byte. Returns a
        :class:`WebhookEvent` for ``checkout.session.completed``,
        ``checkout.session.async_payment_succeeded`` (sessions of ours) and
        ``charge.refunded``; ``None`` for anything else (answer it 2xx so Stripe
        stops retrying). Raises ``WebhookInvalid`` for a missing / forged
        signature, a timestamp older than the tolerance or a malformed body, and
        ``PaymentsDisabled`` without a webhook secret."""
        secret = self._webhook_secret
        if secret is None:
            raise PaymentsDisabled("Stripe webhooks are not enabled on this server.")
        if not signature_header:
            raise WebhookInvalid("The Stripe-Signature header is missing.", reason="missing_signature")
        try:
            # First the signature alone, then with the tolerance, so the two
            # failures get their own reason without parsing stripe's messages.
            stripe.WebhookSignature.verify_header(payload, signature_header, secret, tolerance=None)
        except stripe.SignatureVerificationError:
            raise WebhookInvalid("The webhook signature does not match.", reason="bad_signature") from None
        except ValueError:  # body not UTF-8
            raise WebhookInvalid("The webhook body is not valid UTF-8.", reason="malformed") from None
        try:
            if not isinstance(json.loads(payload), dict):
                raise ValueError("not an object")
        except ValueError:  # json.JSONDecodeError is a ValueError
            raise WebhookInvalid("The webhook body is not a Stripe event.", reason="malformed") from None
        try:
            event = self._client.construct_event(payload, signature_header, secret, self._tolerance).to_dict()
        except stripe.SignatureVerificationError:
            raise WebhookInvalid(
                f"The webhook timestamp is older than {self._tolerance} seconds.", reason="stale"
            ) from None
        except ValueError:  # e.g. a v2 "thin" event notification
            raise WebhookInvalid("The webhook body is not a Stripe event.", reason="malformed") from None
        return _event_from(event)


# -- helpers --------------------------------------------------------------------------


def _provider_error(e: stripe.StripeError, action: str) -> PaymentProviderError:
    """Map a stripe exception to a safe ``PaymentProviderError`` (no Stripe text)."""
    kind = type(e).__name__
    request_id = getattr(e, "request_id", None)
    extra: dict[str, Any] = {}
    if isinstance(e, stripe.APIConnectionError):
        reason, message = "unreachable", f"Could not reach the payment provider to {action}. Please try again."
    elif isinstance(e, (stripe.AuthenticationError, stripe.PermissionError)):
        reason, message = "misconfigured", "Payments are misconfigured on this server. Please contact support."
    elif isinstance(e, stripe.RateLimitError):
        reason, message = "rate_limited", "The payment provider is busy. Please try again in a moment."
    elif isinstance(e, stripe.IdempotencyError):
        reason = "idempotency_conflict"
        message = "This checkout attempt was already used for a different purchase. Please start a new one."
    elif isinstance(e, stripe.InvalidRequestError):
        reason, message = "rejected", f"The payment provider refused to {action}."
        if isinstance(e.param, str) and re.fullmatch(r"[\w\[\].]{1,100}", e.param):
            extra["param"] = e.param  # a parameter name, e.g. line_items[0][price_data][currency]
    else:  # stripe.APIError (5xx, unreadable answer) and anything else
        reason, message = "provider_error", f"The payment provider failed to {action}. Please try again."
    return PaymentProviderError(message, reason=reason, provider_error=kind, provider_request_id=request_id, **extra)


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise _NotOurs
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,18}", value):
        return int(value)
    raise _NotOurs


def _paid_from(session: Mapping[str, Any]) -> PaidSession | None:
    """A PaidSession if ``session`` is a paid top-up of ours; None if unpaid.

    Raises ``_NotOurs`` for a session this gateway did not create."""
    if session.get("object") != "checkout.session" or session.get("mode") != "payment":
        raise _NotOurs
    meta = session.get("metadata")
    if not isinstance(meta, Mapping) or any(
        not isinstance(meta.get(k), str) or not meta.get(k) for k in _METADATA_KEYS
    ):
        raise _NotOurs
    credits, version = _int(meta["credits"]), _int(meta["registry_version"])
    if credits <= 0:
        raise _NotOurs
    status, payment_status = session.get("status"), session.get("payment_status")
    if status != "complete" or payment_status not in ("paid", "no_payment_required"):
        return None
    sid = session.get("id")
    if not isinstance(sid, str):
        raise _NotOurs
    pi = session.get("payment_intent")
    if isinstance(pi, Mapping):  # expanded
        pi = pi.get("id")
    return PaidSession(
        session_id=sid,
        user_id=meta["user_id"],
        pack_id=meta["pack_id"],
        credits=credits,
        amount_total=_int(session.get("amount_total") or 0),
        currency=str(session.get("currency") or ""),
        registry_version=version,
        tenant=meta["tenant"],
        payment_intent=pi if isinstance(pi, str) else None,
        payment_status=str(payment_status),
    )


def _event_from(event: Mapping[str, Any]) -> WebhookEvent | None:
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
            paid = _paid_from(obj)
        except _NotOurs:
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
                amount=_int(obj.get("amount") or 0),
                amount_refunded=_int(obj.get("amount_refunded") or 0),
                currency=str(obj.get("currency") or ""),
            )
        except _NotOurs:
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
