"""The stand-in's refunds (``stripe/refunds.py``) in Stripe's wire format, raw and through stripe-python."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import stripe

from tests.standins.stripe import FakeStripe, WebhookSink
from tests.standins.test_stripe_standin import create


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe(lifetime_s=60) as f:
        yield f


@pytest.fixture
def api(fake: FakeStripe) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, headers={"Authorization": f"Bearer {fake.secret_key}"}, timeout=5) as c:
        yield c


def paid(fake: FakeStripe, api: httpx.Client) -> dict:
    s = create(api).json()
    return fake.mark_paid(s["id"])


def test_post_refunds_refunds_the_charge_and_delivers_charge_refunded(fake: FakeStripe, api: httpx.Client):
    s = paid(fake, api)
    with WebhookSink() as sink:
        fake.set_webhook_url(sink.url)
        r = api.post("/v1/refunds", data={"payment_intent": s["payment_intent"], "amount": "300"})
        assert r.status_code == 200, r.text
        refund = r.json()
        assert refund["object"] == "refund" and refund["id"].startswith("re_") and refund["status"] == "succeeded"
        assert (refund["amount"], refund["currency"], refund["payment_intent"]) == (300, "usd", s["payment_intent"])
        body, headers = sink.wait(1)[0]
    event = json.loads(body)
    stripe.WebhookSignature.verify_header(body.decode(), headers["Stripe-Signature"], fake.webhook_secret)
    charge = event["data"]["object"]
    assert event["type"] == "charge.refunded" and charge["id"] == refund["charge"]
    assert (charge["amount"], charge["amount_refunded"], charge["refunded"]) == (900, 300, False)
    assert charge["payment_intent"] == s["payment_intent"]
    rest = api.post("/v1/refunds", data={"charge": refund["charge"]}).json()  # no amount: the rest
    assert rest["amount"] == 600


def test_refund_errors_name_the_param(fake: FakeStripe, api: httpx.Client):
    s = paid(fake, api)
    r = api.post("/v1/refunds", data={})
    assert r.status_code == 400 and r.json()["error"]["param"] == "charge"
    r = api.post("/v1/refunds", data={"charge": "ch_nope"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "resource_missing"
    r = api.post("/v1/refunds", data={"payment_intent": s["payment_intent"], "amount": "901"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "amount"
    fake.refund(s["id"], notify=False)
    r = api.post("/v1/refunds", data={"payment_intent": s["payment_intent"]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "charge_already_refunded"


def test_list_sessions_by_payment_intent_with_the_charge_expanded(fake: FakeStripe, api: httpx.Client):
    s = paid(fake, api)
    paid(fake, api)  # another session, another payment intent
    fake.refund(s["id"], 450, notify=False)
    params = {"payment_intent": s["payment_intent"], "limit": "1", "expand[0]": "data.payment_intent.latest_charge"}
    r = api.get("/v1/checkout/sessions", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["object"], body["has_more"], body["url"], len(body["data"])) == ("list", False, "/v1/checkout/sessions", 1)
    pi = body["data"][0]["payment_intent"]
    assert body["data"][0]["id"] == s["id"] and pi["object"] == "payment_intent" and pi["id"] == s["payment_intent"]
    assert pi["latest_charge"]["object"] == "charge" and pi["latest_charge"]["amount_refunded"] == 450
    r = api.get("/v1/checkout/sessions", params={"payment_intent": "pi_unknown"})
    assert r.json()["data"] == []
    r = api.get("/v1/checkout/sessions", params={"limit": "101"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "limit"


def test_stripe_python_reads_the_expanded_charge(fake: FakeStripe, api: httpx.Client):
    s = paid(fake, api)
    fake.refund(s["id"], 900, notify=False)
    client = stripe.StripeClient(fake.secret_key, base_addresses={"api": fake.url}, max_network_retries=0)
    got = client.v1.checkout.sessions.retrieve(s["id"], params={"expand": ["payment_intent.latest_charge"]}).to_dict()
    assert got["payment_intent"]["latest_charge"]["refunded"] is True
    plain = client.v1.checkout.sessions.retrieve(s["id"]).to_dict()
    assert plain["payment_intent"] == s["payment_intent"]  # not expanded unless asked
    listed = client.v1.checkout.sessions.list(
        params={"payment_intent": s["payment_intent"], "expand": ["data.payment_intent"]}
    ).to_dict()
    assert listed["data"][0]["payment_intent"]["latest_charge"].startswith("ch_")
