"""Helpers of the payments tests: an in-process app over FakeStripe, and a store that holds transactions back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from credits_core import CreditsService
from credits_core.payments import StripeGateway
from credits_core.payments.flow import confirm_checkout, handle_webhook_event
from tests.standins.stripe import FakeStripe

TENANT = "cityzeen"
PACK_CREDITS, PACK_PRICE = 100, 1500


class GatedStore:
    """A store whose ``transact`` first calls ``gate()`` (e.g. a barrier), then delegates."""

    def __init__(self, store: Any, gate: Callable[[], None]) -> None:
        self._store, self._gate = store, gate

    def transact(self, user_id: str, decide: Any) -> Any:
        self._gate()
        return self._store.transact(user_id, decide)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def gateway_for(fake: FakeStripe) -> StripeGateway:
    return StripeGateway(
        fake.secret_key,
        webhook_secret=fake.webhook_secret,
        api_base=fake.url,
        public_app_url="https://app.example.test",
        timeout_s=5,
        max_network_retries=0,
    )


@dataclass
class App:
    """The app's payment paths in-process: confirm and the webhook, over one service."""

    service: CreditsService
    gateway: StripeGateway
    fake: FakeStripe

    def buy(self, user: str) -> str:
        """A paid checkout session of the 100-credit pack (1500 usd) for ``user``."""
        sid = self.gateway.create_checkout(
            user_id=user, pack_id="pack_100", pack_label="100 credits", credits=PACK_CREDITS,
            unit_amount=PACK_PRICE, currency="usd", registry_version=1, tenant=TENANT,
            attempt_id=f"buy-{user}",
        ).id
        self.fake.mark_paid(sid)
        return sid

    def confirm(self, user: str, sid: str) -> Any:
        return confirm_checkout(self.service, self.gateway, user, sid, tenant=TENANT, via="confirm")

    def hook(self, payload: bytes) -> dict[str, Any]:
        event = self.gateway.parse_webhook(payload, self.fake.sign(payload))
        assert event is not None
        return handle_webhook_event(self.service, event, tenant=TENANT, gateway=self.gateway)
