"""Every error the credits engine raises, with a stable code and HTTP status.

Callers catch by meaning; the API, the CLI and the pages each translate
``CreditsError`` in one place (``code`` → status, ``message`` → text,
``details`` → extra fields of the error body).

    CreditsError
    ├── BadRequest                 400 bad_request        malformed input
    │   ├── InvalidKey             400 invalid_key        idempotency key syntax
    │   ├── UnknownTool            400 unknown_tool
    │   ├── UnknownPlan            400 unknown_plan
    │   ├── UnknownPack            400 unknown_pack
    │   └── RegistryInvalid        400 registry_invalid   lists every problem
    ├── Unauthorized               401 unauthorized
    │   └── InvalidToken           401 unauthorized       the bearer token is missing or bad (says why)
    ├── AuthUnavailable            503 auth_unavailable   Clerk's keys cannot be fetched: not the caller's fault
    ├── AuthNotConfigured          503 auth_not_configured no CLERK_* key: no token can be judged
    ├── InsufficientCredits        402 insufficient_credits  required / balance / topUp in details
    ├── Forbidden                  403 forbidden
    │   ├── PlanRequired           403 plan_required
    │   └── SubscriptionRequired   403 subscription_required  plans are bought, not set
    ├── NotFound                   404 not_found
    ├── StateConflict              409 conflict           the request does not fit the current state
    │   ├── IdempotencyConflict    409 idempotency_conflict
    │   ├── RegistryVersionConflict 409 registry_version_conflict
    │   ├── NoSubscription         409 no_subscription    cancelling needs an active subscription
    │   ├── HoldExpired            409 hold_expired       settling a hold after its time-to-live
    │   └── HoldClosed             409 hold_closed        the hold was already settled or released
    ├── PaymentError               (payments; messages never carry Stripe's text or a key)
    │   ├── PaymentsDisabled       503 payments_disabled  no STRIPE_SECRET_KEY / webhook secret
    │   ├── PaymentsUnavailable    502 payment_provider_error  Stripe unreachable, 5xx, bad key, rejected
    │   ├── CheckoutNotPaid        409 checkout_not_paid  open, expired or still processing
    │   ├── CheckoutNotFound       404 checkout_not_found unknown id, or not one of ours
    │   ├── SubscriptionNotFound   404 subscription_not_found
    │   └── WebhookInvalid         400 webhook_invalid    bad / missing / stale signature, bad JSON
    ├── ConfigError                500 config_error       names the variable
    └── LedgerUnavailable          503 ledger_unavailable store unreachable
"""

from __future__ import annotations

from typing import Any


class CreditsError(Exception):
    """Base of every engine error: a stable ``code``, a status and details."""

    code = "credits_error"
    http_status = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The ``error`` object of an API answer."""
        return {"code": self.code, "message": self.message, **self.details}


class BadRequest(CreditsError):
    code, http_status = "bad_request", 400


class InvalidKey(BadRequest):
    code = "invalid_key"


class UnknownTool(BadRequest):
    code = "unknown_tool"


class UnknownPlan(BadRequest):
    code = "unknown_plan"


class UnknownPack(BadRequest):
    code = "unknown_pack"


class RegistryInvalid(BadRequest):
    """The registry document has problems; ``details['problems']`` lists all."""

    code = "registry_invalid"


class Unauthorized(CreditsError):
    code, http_status = "unauthorized", 401


class InvalidToken(Unauthorized):
    """A bearer token was missing, malformed, expired or not ours; the message says which
    in a few words and never contains the token or a key."""


class AuthUnavailable(CreditsError):
    """Clerk's signing keys could not be obtained: the token was not judged, so no 401."""

    code, http_status = "auth_unavailable", 503


class AuthNotConfigured(CreditsError):
    """Neither ``CLERK_JWT_KEY`` nor ``CLERK_SECRET_KEY``: a 401 would send clients to sign in again in a loop."""

    code, http_status = "auth_not_configured", 503


class InsufficientCredits(CreditsError):
    """Balance does not cover the cost while enforcement is on."""

    code, http_status = "insufficient_credits", 402


class Forbidden(CreditsError):
    code, http_status = "forbidden", 403


class PlanRequired(Forbidden):
    code = "plan_required"


class SubscriptionRequired(Forbidden):
    """A user asked to apply a plan change: plans come from a paid Stripe subscription."""

    code = "subscription_required"


class NotFound(CreditsError):
    code, http_status = "not_found", 404


class StateConflict(CreditsError):
    """The request is well formed but does not fit the current state (of the ledger or of Stripe)."""

    code, http_status = "conflict", 409


class IdempotencyConflict(StateConflict):
    code = "idempotency_conflict"


class RegistryVersionConflict(StateConflict):
    code = "registry_version_conflict"


class ConfigError(CreditsError):
    """Bad configuration at start-up; the message names the variable."""

    code, http_status = "config_error", 500


class LedgerUnavailable(CreditsError):
    """The ledger store cannot be reached or answered with an error."""

    code, http_status = "ledger_unavailable", 503


class NoSubscription(StateConflict):
    """Cancelling or changing a subscription needs an active one."""

    code = "no_subscription"


class HoldExpired(StateConflict):
    """A hold outlived its time-to-live: it was released by itself and can no longer be settled."""

    code = "hold_expired"


class HoldClosed(StateConflict):
    """The hold was already ended the other way (settled, or released); ``details['status']`` says which."""

    code = "hold_closed"


# -- payments ---------------------------------------------------------------------------


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


class PaymentsUnavailable(PaymentError):
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


class CheckoutNotPaid(PaymentError, StateConflict):
    """The session exists but is not paid: open, expired, or still processing."""

    code, http_status = "checkout_not_paid", 409
    default_message = "This checkout has not been paid."


class CheckoutNotFound(PaymentError, NotFound):
    """No such Checkout Session, or one this app did not create."""

    code, http_status = "checkout_not_found", 404
    default_message = "No such checkout session."


class SubscriptionNotFound(PaymentError, NotFound):
    """No such subscription, or not a plan subscription of this app."""

    code, http_status = "subscription_not_found", 404
    default_message = "No such subscription."


class WebhookInvalid(PaymentError, BadRequest):
    """The webhook's signature, timestamp or body is not acceptable."""

    code, http_status = "webhook_invalid", 400
    default_message = "The webhook could not be verified."
