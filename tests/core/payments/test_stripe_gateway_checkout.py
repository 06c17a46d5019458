"""The production Stripe gateway, pointed at the local stand-in: creating a checkout and reading whether it was paid."""

from __future__ import annotations

import httpx
import pytest

from credits_core.errors import (
    BadRequest,
    CheckoutNotFound,
    CheckoutNotPaid,
    Forbidden,
    NotFound,
    PaymentError,
    PaymentsUnavailable,
    StateConflict,
)
from credits_core.payments import PaidSession, StripeGateway
from tests.core.payments.conftest import APP, SECRET, assert_clean, checkout
from tests.standins.stripe import FakeStripe

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
