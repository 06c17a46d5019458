"""The production Stripe gateway, pointed at the local stand-in: parsing and verifying webhooks."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from credits_core.errors import BadRequest, PaymentsDisabled, WebhookInvalid
from credits_core.payments import StripeGateway
from tests.core.payments.conftest import checkout, make_gateway
from tests.standins.stripe import FakeStripe, WebhookSink

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
