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
    ├── PaymentRequired            402 insufficient_credits
    ├── Forbidden                  403 forbidden
    │   ├── PlanRequired           403 plan_required
    │   └── SubscriptionRequired   403 subscription_required  plans are bought, not set
    ├── NotFound                   404 not_found
    ├── Conflict                   409 conflict
    │   ├── IdempotencyConflict    409 idempotency_conflict
    │   └── RegistryVersionConflict 409 registry_version_conflict
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


class PaymentRequired(CreditsError):
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


class Conflict(CreditsError):
    code, http_status = "conflict", 409


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"


class RegistryVersionConflict(Conflict):
    code = "registry_version_conflict"


class ConfigError(CreditsError):
    """Bad configuration at start-up; the message names the variable."""

    code, http_status = "config_error", 500


class LedgerUnavailable(CreditsError):
    """The ledger store cannot be reached or answered with an error."""

    code, http_status = "ledger_unavailable", 503


# Kept for readers who look for the spec's word.
InsufficientCredits = PaymentRequired
