"""The production Stripe gateway, pointed at the local stand-in."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from credits_core.config import load_settings
from credits_core.errors import (
    BadRequest,
    CheckoutNotFound,
    CheckoutNotPaid,
    ConfigError,
    CreditsError,
    Forbidden,
    NotFound,
    PaymentError,
    PaymentsDisabled,
    PaymentsUnavailable,
    StateConflict,
    WebhookInvalid,
)
from credits_core.payments import (
    PaidSession,
    StripeGateway,
)
from tests.standins.stripe import FakeStripe, WebhookSink

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


# -- checkout -------------------------------------------------------------------------


def test_create_sends_stripes_form_encoding_with_the_attempt_as_idempotency_key(
    fake: FakeStripe, gw: StripeGateway
) -> None:
    session = checkout(gw)
    assert session.id.startswith("cs_test_") and session.url == f"{fake.url}/pay/{session.id}"
    [sent] = [r for r in fake.requests() if r["method"] == "POST"]
    assert sent["authorized"] and sent["idempotency_key"] == "topup-attempt-1"
    assert sent["params"] == {
        "mode": "payment",
        "line_items[0][price_data][currency]": "usd",
        "line_items[0][price_data][unit_amount]": "900",
        "line_items[0][price_data][product_data][name]": "100 credits",
        "line_items[0][quantity]": "1",
        "client_reference_id": "user_2abc",
        "metadata[user_id]": "user_2abc",
        "metadata[pack_id]": "pack_100",
        "metadata[credits]": "100",
        "metadata[registry_version]": "7",
        "metadata[tenant]": "cityzeen",
        "success_url": f"{APP}/account?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{APP}/account?checkout=cancel",
    }


def test_create_pay_on_the_hosted_page_then_paid_session(fake: FakeStripe, gw: StripeGateway) -> None:
    session = checkout(gw)
    redirect = httpx.post(session.url)
    assert redirect.status_code == 303
    assert redirect.headers["Location"] == f"{APP}/account?checkout=success&session_id={session.id}"
    paid = gw.paid_session(session.id)
    assert paid == PaidSession(
        session_id=session.id,
        user_id="user_2abc",
        pack_id="pack_100",
        credits=100,
        amount_total=900,
        currency="usd",
        registry_version=7,
        tenant="cityzeen",
        payment_intent=fake.session(session.id)["payment_intent"],
        payment_status="paid",
    )
    assert paid.payment_intent and paid.payment_intent.startswith("pi_")


def test_the_same_attempt_returns_the_same_session(fake: FakeStripe, gw: StripeGateway) -> None:
    assert checkout(gw) == checkout(gw)
    assert [r["replayed"] for r in fake.requests()] == [False, True]


def test_an_attempt_reused_for_another_pack_is_refused(gw: StripeGateway) -> None:
    checkout(gw)
    with pytest.raises(PaymentsUnavailable) as info:
        checkout(gw, pack_id="pack_500", credits=500, unit_amount=3900)
    err = info.value
    assert (err.code, err.http_status, err.details["reason"]) == ("payment_provider_error", 502, "idempotency_conflict")
    assert err.provider_error == "IdempotencyError"
    assert_clean(err)


def test_a_request_stripe_rejects_names_the_param(gw: StripeGateway) -> None:
    with pytest.raises(PaymentsUnavailable) as info:
        checkout(gw, currency="xyz")
    assert info.value.details == {"reason": "rejected", "param": "line_items[0][price_data][currency]"}
    assert_clean(info.value)


def test_bad_arguments_are_a_clear_bad_request(gw: StripeGateway) -> None:
    for bad in ({"credits": 0}, {"unit_amount": -1}, {"currency": "dollars"}, {"attempt_id": ""}, {"user_id": ""}):
        with pytest.raises(BadRequest):
            checkout(gw, **bad)


# -- paid_session -----------------------------------------------------------------------


def test_an_open_session_is_not_paid(gw: StripeGateway) -> None:
    session = checkout(gw)
    with pytest.raises(CheckoutNotPaid) as info:
        gw.paid_session(session.id)
    err = info.value
    assert (err.code, err.http_status) == ("checkout_not_paid", 409)
    assert err.to_dict() == {
        "code": "checkout_not_paid",
        "message": "This checkout has not been paid yet.",
        "reason": "open",
        "sessionStatus": "open",
        "paymentStatus": "unpaid",
    }
    assert isinstance(err, StateConflict) and isinstance(err, PaymentError)


def test_another_users_session_is_forbidden_before_its_status_is_told(fake: FakeStripe, gw: StripeGateway) -> None:
    session = checkout(gw)
    with pytest.raises(Forbidden) as info:
        gw.paid_session(session.id, owner="someone_else")  # unpaid: must not say so to a stranger
    assert "paid" not in info.value.message and info.value.http_status == 403
    fake.mark_paid(session.id)
    with pytest.raises(Forbidden):
        gw.paid_session(session.id, owner="someone_else")


def test_a_processing_payment_is_not_paid_until_it_succeeds(fake: FakeStripe, gw: StripeGateway) -> None:
    session = checkout(gw)
    fake.mark_paid(session.id, payment_status="unpaid")
    with pytest.raises(CheckoutNotPaid) as info:
        gw.paid_session(session.id)
    assert info.value.details["reason"] == "processing"
    fake.mark_paid(session.id, async_=True)
    assert gw.paid_session(session.id).credits == 100


def test_an_expired_session_is_not_paid(fake: FakeStripe, gw: StripeGateway) -> None:
    session = checkout(gw)
    fake.expire(session.id)
    with pytest.raises(CheckoutNotPaid) as info:
        gw.paid_session(session.id)
    assert info.value.details["reason"] == "expired"
    assert "expired" in info.value.message


def test_no_payment_required_counts_as_paid(fake: FakeStripe, gw: StripeGateway) -> None:
    session = checkout(gw)
    fake.mark_paid(session.id, payment_status="no_payment_required")
    assert gw.paid_session(session.id).payment_status == "no_payment_required"


def test_unknown_and_malformed_ids_are_not_found(fake: FakeStripe, gw: StripeGateway) -> None:
    with pytest.raises(CheckoutNotFound) as info:
        gw.paid_session("cs_test_doesnotexist")
    assert (info.value.code, info.value.http_status) == ("checkout_not_found", 404)
    assert isinstance(info.value, NotFound)
    for bad in ("../v1/customers", "pi_123", "", "cs_test_a/b"):
        with pytest.raises(CheckoutNotFound):
            gw.paid_session(bad)
    assert [r["path"] for r in fake.requests()] == ["/v1/checkout/sessions/cs_test_doesnotexist"]


def test_a_session_this_app_did_not_create_is_not_found(fake: FakeStripe, gw: StripeGateway) -> None:
    form = {
        "mode": "payment",
        "line_items[0][price_data][currency]": "usd",
        "line_items[0][price_data][unit_amount]": "5000",
        "line_items[0][price_data][product_data][name]": "Something else",
        "line_items[0][quantity]": "1",
        "success_url": "https://other.example.test/ok",
    }
    r = httpx.post(f"{fake.url}/v1/checkout/sessions", data=form, headers={"Authorization": f"Bearer {SECRET}"})
    fake.mark_paid(r.json()["id"])
    with pytest.raises(CheckoutNotFound) as info:
        gw.paid_session(r.json()["id"])
    assert info.value.details["reason"] == "not_a_top_up"


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


# -- webhooks ---------------------------------------------------------------------------


def paid_session_id(fake: FakeStripe, gw: StripeGateway, attempt_id: str = "topup-attempt-1", **kw: Any) -> str:
    session = checkout(gw, attempt_id=attempt_id)
    fake.mark_paid(session.id, **kw)
    return session.id


def test_webhook_checkout_completed(fake: FakeStripe, gw: StripeGateway) -> None:
    sid = paid_session_id(fake, gw)
    payload = fake.event_for("checkout.session.completed", sid)
    event = gw.parse_webhook(payload, fake.sign(payload))
    assert event is not None and event.type == "checkout.session.completed"
    assert event.id == json.loads(payload)["id"] and event.livemode is False and event.session_id == sid
    assert event.paid == gw.paid_session(sid)
    assert event.refund is None


def test_webhook_completed_while_payment_processing_has_nothing_to_credit(fake: FakeStripe, gw: StripeGateway) -> None:
    sid = paid_session_id(fake, gw, payment_status="unpaid")
    payload = fake.event_for("checkout.session.completed", sid)
    event = gw.parse_webhook(payload, fake.sign(payload))
    assert event is not None and event.session_id == sid and event.paid is None


def test_webhook_async_payment_succeeded(fake: FakeStripe, gw: StripeGateway) -> None:
    sid = paid_session_id(fake, gw, payment_status="unpaid")
    fake.mark_paid(sid, async_=True)
    payload = fake.event_for("checkout.session.async_payment_succeeded", sid)
    event = gw.parse_webhook(payload, fake.sign(payload))
    assert event is not None and event.type == "checkout.session.async_payment_succeeded"
    assert event.paid is not None and event.paid.credits == 100 and event.paid.user_id == "user_2abc"


def test_webhook_charge_refunded(fake: FakeStripe, gw: StripeGateway) -> None:
    sid = paid_session_id(fake, gw)
    payload = fake.charge_refunded(sid)
    event = gw.parse_webhook(payload, fake.sign(payload))
    assert event is not None and event.type == "charge.refunded" and event.paid is None
    refund = event.refund
    assert refund is not None and refund.charge_id.startswith("ch_")
    assert refund.payment_intent == gw.paid_session(sid).payment_intent
    assert (refund.amount, refund.amount_refunded, refund.currency, refund.fully_refunded) == (900, 900, "usd", True)


def test_webhook_partial_refund(fake: FakeStripe, gw: StripeGateway) -> None:
    sid = paid_session_id(fake, gw)
    payload = fake.charge_refunded(sid, amount=300)
    event = gw.parse_webhook(payload, fake.sign(payload))
    assert event is not None and event.refund is not None
    assert (event.refund.amount_refunded, event.refund.fully_refunded) == (300, False)


def test_webhook_ignored_types_and_foreign_sessions(fake: FakeStripe, gw: StripeGateway) -> None:
    session = checkout(gw)
    fake.expire(session.id)
    payload = fake.event_for("checkout.session.expired", session.id)
    assert gw.parse_webhook(payload, fake.sign(payload)) is None
    foreign = json.loads(
        fake.event_for("checkout.session.completed", paid_session_id(fake, gw, attempt_id="topup-attempt-2"))
    )
    foreign["data"]["object"]["metadata"] = {}
    body = json.dumps(foreign).encode()
    assert gw.parse_webhook(body, fake.sign(body)) is None


def test_webhook_forged_signature(fake: FakeStripe, gw: StripeGateway) -> None:
    sid = paid_session_id(fake, gw)
    payload = fake.event_for("checkout.session.completed", sid)
    with pytest.raises(WebhookInvalid) as info:
        gw.parse_webhook(payload, fake.sign(payload, secret="whsec_attacker"))
    err = info.value
    assert (err.code, err.http_status, err.details) == ("webhook_invalid", 400, {"reason": "bad_signature"})
    assert isinstance(err, BadRequest)
    tampered = payload.replace(b'"paid"', b'"PAID"', 1)
    with pytest.raises(WebhookInvalid):
        gw.parse_webhook(tampered, fake.sign(payload))
    for header in ("", None):
        with pytest.raises(WebhookInvalid) as info:
            gw.parse_webhook(payload, header)
        assert info.value.details == {"reason": "missing_signature"}
    with pytest.raises(WebhookInvalid) as info:
        gw.parse_webhook(payload, "garbage")
    assert info.value.details == {"reason": "bad_signature"}


def test_webhook_stale_timestamp(fake: FakeStripe, gw: StripeGateway) -> None:
    sid = paid_session_id(fake, gw)
    payload = fake.event_for("checkout.session.completed", sid)
    with pytest.raises(WebhookInvalid) as info:
        gw.parse_webhook(payload, fake.sign(payload, ts=int(time.time()) - 301))
    assert info.value.details == {"reason": "stale"}
    assert gw.parse_webhook(payload, fake.sign(payload, ts=int(time.time()) - 200)) is not None


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"object": "event"}', b'["a"]', b"\xff\xfe", b'{"object": "event", "id": "evt_1", "type": "x"}'],
)
def test_webhook_malformed_body(fake: FakeStripe, gw: StripeGateway, body: bytes) -> None:
    header = fake.sign(body) if body != b"\xff\xfe" else "t=1,v1=00"
    with pytest.raises(WebhookInvalid) as info:
        gw.parse_webhook(body, header)
    assert info.value.details["reason"] in ("malformed", "bad_signature")
    if body != b"\xff\xfe":
        assert info.value.details["reason"] == "malformed"


def test_webhook_without_a_secret_is_disabled(fake: FakeStripe) -> None:
    gw = make_gateway(fake, webhook_secret=None)
    assert not gw.webhooks_enabled
    with pytest.raises(PaymentsDisabled) as info:
        gw.parse_webhook(b"{}", "t=1,v1=00")
    assert (info.value.code, info.value.http_status) == ("payments_disabled", 503)


def test_end_to_end_hosted_page_to_webhook(fake: FakeStripe, gw: StripeGateway) -> None:
    with WebhookSink() as sink:
        fake.set_webhook_url(sink.url)
        session = checkout(gw)
        httpx.post(session.url)
        [(body, headers)] = sink.wait(1)
    event = gw.parse_webhook(body, headers["Stripe-Signature"])
    assert event is not None and event.paid == gw.paid_session(session.id)


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
