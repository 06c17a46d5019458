"""What the routes need besides the request: the service, settings, verifier, gateway.

The Clerk verifier and the Stripe gateway are built once, when
``create_api()`` runs (a bad ``CLERK_*`` / ``STRIPE_*`` value is a start-up
error naming the variable). The credits service is *not* opened then: routes
read ``credits_core.runtime.shared_service()`` per request, the one service of
the process that the Streamlit pages use too.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from credits_core.auth import ClerkVerifier
from credits_core.config import Settings
from credits_core.payments import StripeGateway
from credits_core.runtime import shared_service, shared_settings
from credits_core.service import CreditsService

from .token_cache import TokenCache


@dataclass(frozen=True)
class ApiContext:
    """Objects built once per ``create_api()``."""

    verifier: TokenCache | None  # None: no CLERK_JWT_KEY / CLERK_SECRET_KEY
    gateway: StripeGateway | None  # None: no STRIPE_SECRET_KEY (payments disabled)


def build_context(settings: Settings) -> ApiContext:
    """Build the verifier and the gateway; ``ConfigError`` names a bad variable."""
    clerk = ClerkVerifier.from_settings(settings)
    verifier = TokenCache(clerk) if clerk is not None else None
    gateway = StripeGateway.from_settings(settings)
    return ApiContext(verifier=verifier, gateway=gateway)


def api_context(request: Request) -> ApiContext:
    """The context of the app serving ``request``."""
    return request.app.state.credits_context


def service() -> CreditsService:
    """The process-wide credits service (opened on first use)."""
    return shared_service()


def settings() -> Settings:
    """The process-wide settings (read once)."""
    return shared_settings()
