"""Fixtures of the Stripe gateway tests (``test_stripe_gateway_*.py``): the stand-in and a gateway on it.

Other payments tests that need a differently configured stand-in define
their own ``fake`` fixture, which takes precedence in their module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from credits_core.errors import CreditsError
from credits_core.payments import StripeGateway
from tests.standins.stripe import FakeStripe

APP = "https://app.example.test"
SECRET = "sk_test_gateway_secret_0123456789"


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe(secret_key=SECRET, lifetime_s=60) as f:
        yield f


def make_gateway(fake: FakeStripe, **kw: Any) -> StripeGateway:
    opts: dict[str, Any] = {
        "webhook_secret": fake.webhook_secret,
        "api_base": fake.url,
        "public_app_url": APP,
        "timeout_s": 2,
        "max_network_retries": 0,
    }
    return StripeGateway(kw.pop("secret_key", SECRET), **{**opts, **kw})


@pytest.fixture
def gw(fake: FakeStripe) -> StripeGateway:
    return make_gateway(fake)


def checkout(gw: StripeGateway, **kw: Any):
    args: dict[str, Any] = {
        "user_id": "user_2abc",
        "pack_id": "pack_100",
        "pack_label": "100 credits",
        "credits": 100,
        "unit_amount": 900,
        "currency": "USD",
        "registry_version": 7,
        "tenant": "cityzeen",
        "attempt_id": "topup-attempt-1",
    }
    return gw.create_checkout(**{**args, **kw})


def assert_clean(err: CreditsError) -> None:
    """No secret, no provider text in anything a caller could show or log."""
    for text in (str(err), repr(err), err.message, json.dumps(err.to_dict())):
        assert SECRET not in text and "sk_test" not in text and "stripe.com" not in text
