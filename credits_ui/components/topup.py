"""Top-up purchases: the only place the UI touches Stripe Checkout.

* DEMO: :func:`demo_purchase` credits the pack at once under a
  ``demo-<uuid>`` reference (no money moves).
* Server mode: :func:`start_checkout` returns the Stripe Checkout URL to send
  the browser to; :func:`confirm_checkout` credits a paid session once when
  Stripe redirects back with ``?checkout=success&session_id=…``.

Both server-mode steps do what the HTTP routes ``POST /api/credits-checkout``
and ``…/confirm`` do, and crediting goes through the same function as the
confirm route and the webhook (``credits_core.payments.flow``),
so a session is credited once whichever of the three comes first.
"""

from __future__ import annotations

import uuid

from credits_core import CreditsService, TopUpResult
from credits_core.errors import PaymentsDisabled
from credits_core.payments import CheckoutSession, StripeGateway, flow
from credits_core.runtime import shared_settings


def payments_enabled() -> bool:
    """True when the server has a Stripe secret key (server mode only)."""
    try:
        return shared_settings().payments_enabled
    except Exception:
        return False


def gateway() -> StripeGateway:
    """The Stripe gateway configured from the environment; ``PaymentsDisabled`` without keys."""
    gw = StripeGateway.from_settings(shared_settings())
    if gw is None:
        raise PaymentsDisabled("Payments are not configured on this server (STRIPE_SECRET_KEY is not set).")
    return gw


def demo_purchase(service: CreditsService, user_id: str, pack_id: str) -> TopUpResult:
    """A DEMO pack purchase: credited immediately, reference ``demo-<uuid>``."""
    return service.top_up(user_id, pack_id, f"demo-{uuid.uuid4().hex}", demo=True)


def start_checkout(service: CreditsService, user_id: str, pack_id: str, *, email: str | None = None) -> CheckoutSession:
    """Create a Stripe Checkout Session for ``pack_id``; send the browser to ``.url``."""
    return flow.start_checkout(service, gateway(), user_id, pack_id, tenant=shared_settings().tenant, email=email)


def confirm_checkout(service: CreditsService, user_id: str, session_id: str) -> TopUpResult:
    """Credit a paid Checkout Session of this user, once (a repeat replays)."""
    return flow.confirm_checkout(
        service, gateway(), user_id, session_id, tenant=shared_settings().tenant, via="ui-confirm"
    )
