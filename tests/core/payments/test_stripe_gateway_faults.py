"""The production Stripe gateway, pointed at the local stand-in: the provider failing, and configuration."""

from __future__ import annotations

import json

import pytest

from credits_core.config import load_settings
from credits_core.errors import ConfigError, PaymentsUnavailable
from credits_core.payments import StripeGateway
from tests.core.payments.conftest import APP, SECRET, assert_clean, checkout, make_gateway
from tests.standins.stripe import FakeStripe

# -- the provider failing ----------------------------------------------------------------


def test_stripe_unreachable(fake: FakeStripe, gw: StripeGateway) -> None:
    session = checkout(gw)
    fake.stop()
    for call in (lambda: checkout(gw, attempt_id="another"), lambda: gw.paid_session(session.id)):
        with pytest.raises(PaymentsUnavailable) as info:
            call()
        err = info.value
        assert (err.code, err.http_status, err.details) == ("payment_provider_error", 502, {"reason": "unreachable"})
        assert "Could not reach the payment provider" in err.message
        assert err.__cause__ is None and err.__suppress_context__
        assert_clean(err)


@pytest.mark.parametrize(
    ("fault", "reason"), [(500, "provider_error"), (503, "provider_error"), ("drop", "unreachable")]
)
def test_stripe_failing(fake: FakeStripe, gw: StripeGateway, fault: int | str, reason: str) -> None:
    fake.fail_next(1, fault)
    with pytest.raises(PaymentsUnavailable) as info:
        checkout(gw)
    assert info.value.details == {"reason": reason}
    assert_clean(info.value)


def test_a_retry_recovers_with_the_same_idempotency_key(fake: FakeStripe) -> None:
    gw = make_gateway(fake, max_network_retries=1)
    fake.fail_next(1, 500)
    session = checkout(gw)
    posts = [r for r in fake.requests() if r["method"] == "POST"]
    assert [p["fault"] for p in posts] == [500, None]
    assert {p["idempotency_key"] for p in posts} == {"topup-attempt-1"}
    assert fake.session(session.id)["status"] == "open"


def test_a_wrong_key_is_a_configuration_problem_and_is_never_echoed(fake: FakeStripe) -> None:
    gw = make_gateway(fake, secret_key="sk_test_not_the_right_one_987")
    with pytest.raises(PaymentsUnavailable) as info:
        checkout(gw)
    err = info.value
    assert err.details == {"reason": "misconfigured"} and err.provider_error == "AuthenticationError"
    for text in (str(err), repr(err), json.dumps(err.to_dict())):
        assert "sk_test" not in text and "987" not in text
    assert "not_the_right_one" not in repr(gw)


# -- configuration ----------------------------------------------------------------------


def test_from_settings() -> None:
    def gateway(env: dict[str, str]) -> StripeGateway | None:
        return StripeGateway.from_settings(load_settings(env))

    assert gateway({}) is None
    with pytest.raises(ConfigError, match="STRIPE_API_BASE"):
        gateway({"STRIPE_SECRET_KEY": SECRET, "CZ_PUBLIC_APP_URL": APP, "STRIPE_API_BASE": "ftp://x"})
    gw = gateway({"STRIPE_SECRET_KEY": SECRET, "CZ_PUBLIC_APP_URL": APP + "/", "STRIPE_API_BASE": "http://127.0.0.1:1"})
    assert gw is not None and gw.public_app_url == APP and gw.api_base == "http://127.0.0.1:1"
    assert not gw.webhooks_enabled


def test_a_bad_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError, match="STRIPE_SECRET_KEY") as info:
        StripeGateway("pk_test_publishable_123", webhook_secret=None, api_base=None, public_app_url=APP)
    assert "publishable_123" not in str(info.value) and info.value.details == {"variable": "STRIPE_SECRET_KEY"}
