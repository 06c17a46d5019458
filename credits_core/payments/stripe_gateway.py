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

Errors are the payment errors of ``credits_core.errors`` (``PaymentsDisabled``,
``PaymentsUnavailable``, ``CheckoutNotPaid``, ``CheckoutNotFound``, ``WebhookInvalid``).
Messages are written for end users and never carry the secret key, Stripe's
own error text (a 401 quotes the masked key) or a provider payload; ``reason``
and ``param`` details name what went wrong, and ``provider_request_id`` (an
attribute, not part of the API body) ties a failure to Stripe's request log.
"""

from __future__ import annotations

import json
import re
from typing import Any

import stripe

from ..config import Settings, http_url
from ..errors import (
    BadRequest,
    CheckoutNotFound,
    CheckoutNotPaid,
    ConfigError,
    Forbidden,
    PaymentsDisabled,
    PaymentsUnavailable,
    WebhookInvalid,
)
from .events import (
    CheckoutSession,
    NotOurs,
    PaidSession,
    WebhookEvent,
    event_from,
    paid_from,
)

__all__ = ["WEBHOOK_TOLERANCE_S", "StripeGateway", "provider_error"]

# Stripe's own default (stripe.Webhook.DEFAULT_TOLERANCE, 300 s): older signed
# timestamps are refused to stop replays (https://docs.stripe.com/webhooks).
WEBHOOK_TOLERANCE_S = 300
# Checkout Session ids look like ``cs_test_a1B2...`` / ``cs_live_...``.
_SESSION_ID = re.compile(r"^cs_[A-Za-z0-9_]{1,250}$")
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
# Stripe idempotency keys are up to 255 characters
# (https://docs.stripe.com/api/idempotent_requests).
_MAX_IDEMPOTENCY_KEY = 255


# -- the gateway ----------------------------------------------------------------------


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
        self.public_app_url = http_url(public_app_url, "CZ_PUBLIC_APP_URL")
        self.api_base = http_url(api_base, "STRIPE_API_BASE") if api_base else None
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
        return cls(
            settings.stripe_secret_key,
            webhook_secret=settings.stripe_webhook_secret,
            api_base=settings.stripe_api_base,
            public_app_url=settings.public_app_url,
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
            raise BadRequest("user_id, pack_id, pack_label and tenant are required", field="pack")
        if not isinstance(credits, int) or credits <= 0:
            raise BadRequest("credits must be a positive integer", field="credits")
        if not isinstance(unit_amount, int) or unit_amount < 0:
            raise BadRequest("unit_amount must be a non-negative integer (minor units)", field="price")
        if not _CURRENCY.match(currency or ""):
            raise BadRequest("currency must be a three-letter ISO code", field="currency")
        if not attempt_id or len(attempt_id) > _MAX_IDEMPOTENCY_KEY:
            raise BadRequest("attempt_id must be 1-255 characters", field="Idempotency-Key")
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
            raise provider_error(e, "create the checkout") from None
        sid, url = session.get("id"), session.get("url")
        if not isinstance(sid, str) or not isinstance(url, str) or not url:
            raise PaymentsUnavailable(reason="bad_response")
        return CheckoutSession(id=sid, url=url)

    def paid_session(self, session_id: str, *, owner: str | None = None) -> PaidSession:
        """Retrieve a session and return it if paid.

        With ``owner``, a session bought by another user is ``Forbidden``
        before anything else is said about it (not even whether it is paid).

        Paid means ``status == "complete"`` and ``payment_status`` is not
        ``unpaid`` (Stripe's fulfillment rule, https://docs.stripe.com/checkout/fulfillment).
        Raises ``CheckoutNotPaid`` (open / expired / processing),
        ``CheckoutNotFound`` (unknown, or not a top-up of this app) or
        ``PaymentsUnavailable``."""
        session = self.retrieve_session(session_id)
        try:
            paid = paid_from(session)
        except NotOurs:
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

    def retrieve_session(self, session_id: str, *, expand: list[str] | None = None) -> dict[str, Any]:
        """A Checkout Session as Stripe has it now (``CheckoutNotFound`` / ``PaymentsUnavailable`` otherwise)."""
        if not isinstance(session_id, str) or not _SESSION_ID.match(session_id):
            raise CheckoutNotFound(reason="bad_id")
        params = {"expand": expand} if expand else None
        try:
            return self._client.v1.checkout.sessions.retrieve(session_id, params=params).to_dict()
        except stripe.InvalidRequestError as e:
            if e.http_status == 404 or e.code == "resource_missing":
                raise CheckoutNotFound() from None
            raise provider_error(e, "read the checkout") from None
        except stripe.StripeError as e:
            raise provider_error(e, "read the checkout") from None

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
        return event_from(event)


# -- helpers --------------------------------------------------------------------------


def provider_error(e: stripe.StripeError, action: str) -> PaymentsUnavailable:
    """Map a stripe exception to a safe ``PaymentsUnavailable`` (no Stripe text)."""
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
    return PaymentsUnavailable(message, reason=reason, provider_error=kind, provider_request_id=request_id, **extra)
