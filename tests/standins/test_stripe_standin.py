"""The Stripe stand-in speaks Stripe's wire formats (raw HTTP, no gateway)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
import stripe

from tests.standins.stripe import FakeStripe, WebhookSink

SUCCESS = "https://app.example.test/account?checkout=success&session_id={CHECKOUT_SESSION_ID}"
CANCEL = "https://app.example.test/account?checkout=cancel"
FORM = {
    "mode": "payment",
    "line_items[0][price_data][currency]": "usd",
    "line_items[0][price_data][unit_amount]": "900",
    "line_items[0][price_data][product_data][name]": "Pack of 100 credits",
    "line_items[0][quantity]": "1",
    "client_reference_id": "user_123",
    "metadata[user_id]": "user_123",
    "metadata[pack_id]": "pack_100",
    "customer_email": "buyer@example.test",
    "success_url": SUCCESS,
    "cancel_url": CANCEL,
}


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe(lifetime_s=60) as f:
        yield f


@pytest.fixture
def api(fake: FakeStripe) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, headers={"Authorization": f"Bearer {fake.secret_key}"}, timeout=5) as c:
        yield c


def create(api: httpx.Client, form: dict[str, str] | None = None, key: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return api.post("/v1/checkout/sessions", data=form or FORM, headers=headers)


def test_create_answers_a_checkout_session_object(fake: FakeStripe, api: httpx.Client) -> None:
    r = create(api)
    assert r.status_code == 200, r.text
    assert r.headers["Request-Id"].startswith("req_")
    s = r.json()
    assert s["id"].startswith("cs_test_")
    assert s["object"] == "checkout.session"
    assert (s["mode"], s["status"], s["payment_status"]) == ("payment", "open", "unpaid")
    assert s["url"] == f"{fake.url}/pay/{s['id']}"
    assert s["client_reference_id"] == "user_123"
    assert s["metadata"] == {"user_id": "user_123", "pack_id": "pack_100"}
    assert (s["success_url"], s["cancel_url"]) == (SUCCESS, CANCEL)
    assert (s["amount_total"], s["currency"], s["customer_email"]) == (900, "usd", "buyer@example.test")
    assert s["expires_at"] - s["created"] == 24 * 3600
    assert s["livemode"] is False and s["payment_intent"] is None and s["customer_details"] is None


def test_stripe_python_style_body_with_raw_brackets_is_understood(fake: FakeStripe, api: httpx.Client) -> None:
    body = (
        "mode=payment&line_items[0][price_data][currency]=eur&line_items[0][price_data][unit_amount]=1500"
        "&line_items[0][price_data][product_data][name]=Pack&line_items[0][quantity]=2"
        "&success_url=https%3A%2F%2Fa.test%2Fok&metadata[k]=v"
    )
    r = api.post("/v1/checkout/sessions", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    assert (r.json()["amount_total"], r.json()["currency"], r.json()["metadata"]) == (3000, "eur", {"k": "v"})
    logged = fake.requests()[-1]
    assert logged["params"]["line_items[0][price_data][product_data][name]"] == "Pack"
    assert logged["data"]["line_items"][0]["quantity"] == "2"


def test_retrieve_returns_the_session_and_unknown_ids_are_404(api: httpx.Client) -> None:
    s = create(api).json()
    got = api.get(f"/v1/checkout/sessions/{s['id']}")
    assert got.status_code == 200 and got.json() == s
    expanded = api.get(f"/v1/checkout/sessions/{s['id']}", params={"expand[]": "line_items"}).json()
    assert expanded["line_items"]["data"][0]["description"] == "Pack of 100 credits"
    missing = api.get("/v1/checkout/sessions/cs_test_nope")
    assert missing.status_code == 404
    err = missing.json()["error"]
    assert (err["type"], err["code"], err["param"]) == ("invalid_request_error", "resource_missing", "session")
    assert err["message"] == "No such checkout.session: 'cs_test_nope'"


def test_wrong_or_missing_key_is_401_with_a_masked_key(fake: FakeStripe) -> None:
    wrong = "sk_test_wrongwrongwrong9876"
    r = httpx.post(f"{fake.url}/v1/checkout/sessions", data=FORM, headers={"Authorization": f"Bearer {wrong}"})
    assert r.status_code == 401
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error"
    assert err["message"].startswith("Invalid API Key provided: sk_test_****") and err["message"].endswith("9876")
    assert wrong not in r.text
    r = httpx.get(f"{fake.url}/v1/checkout/sessions/cs_test_x")
    assert r.status_code == 401 and "did not provide an API key" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("change", "param", "code"),
    [
        ({"mode": None}, "mode", "parameter_missing"),
        ({"mode": "rent"}, "mode", None),
        ({k: None for k in FORM if k.startswith("line_items")}, "line_items", "parameter_missing"),
        ({"line_items[0][price_data][currency]": "xyz"}, "line_items[0][price_data][currency]", None),
        ({"line_items[0][quantity]": None}, "line_items[0][quantity]", "parameter_missing"),
        ({"line_items[0][price_data][unit_amount]": "lots"}, "line_items[0][price_data][unit_amount]", None),
        ({"success_url": None}, "success_url", "parameter_missing"),
        ({"colour": "red"}, "colour", "parameter_unknown"),
        ({"line_items[0][price_data][unit_amount]": "20"}, "line_items", None),  # below the $0.50 minimum
    ],
)
def test_bad_parameters_are_400_naming_the_param(
    api: httpx.Client, change: dict[str, str | None], param: str, code: str | None
) -> None:
    form = {k: v for k, v in {**FORM, **change}.items() if v is not None}
    r = create(api, form)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and err["param"] == param and err.get("code") == code
    if param.endswith("[currency]"):
        assert err["message"].startswith("Invalid currency: xyz. Stripe currently supports these currencies:")


def test_idempotency_replays_the_first_answer_and_refuses_other_params(fake: FakeStripe, api: httpx.Client) -> None:
    first = create(api, key="attempt-1")
    again = create(api, key="attempt-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert again.headers["Original-Request"] == first.headers["Request-Id"]
    other = create(api, {**FORM, "line_items[0][price_data][unit_amount]": "1900"}, key="attempt-1")
    assert other.status_code == 400
    err = other.json()["error"]
    assert err["type"] == "idempotency_error"
    assert "can only be used with the same parameters" in err["message"]
    elsewhere = api.post(f"/v1/checkout/sessions/{first.json()['id']}/expire", headers={"Idempotency-Key": "attempt-1"})
    assert elsewhere.status_code == 400 and elsewhere.json()["error"]["type"] == "idempotency_error"
    assert [e["replayed"] for e in fake.requests()] == [False, True, False, False]


def test_validation_failures_and_faults_save_no_idempotent_result(fake: FakeStripe, api: httpx.Client) -> None:
    bad = create(api, {k: v for k, v in FORM.items() if k != "mode"}, key="k2")
    assert bad.status_code == 400
    fake.fail_next(1)
    failed = create(api, key="k2")
    assert failed.status_code == 500 and failed.json()["error"]["type"] == "api_error"
    ok = create(api, key="k2")
    assert ok.status_code == 200 and "Idempotent-Replayed" not in ok.headers


def test_fail_next_can_drop_the_connection(fake: FakeStripe, api: httpx.Client) -> None:
    fake.fail_next(1, "drop")
    with pytest.raises(httpx.RemoteProtocolError):
        create(api)
    assert create(api).status_code == 200
    assert [e["fault"] for e in fake.requests()] == ["drop", None]


def test_expire_endpoint_and_control(fake: FakeStripe, api: httpx.Client) -> None:
    s = create(api).json()
    r = api.post(f"/v1/checkout/sessions/{s['id']}/expire")
    assert r.status_code == 200 and (r.json()["status"], r.json()["url"]) == ("expired", None)
    again = api.post(f"/v1/checkout/sessions/{s['id']}/expire")
    assert again.status_code == 400 and "can be expired" in again.json()["error"]["message"]
    assert api.post("/v1/checkout/sessions/cs_test_nope/expire").status_code == 404
    s2 = create(api).json()
    assert fake.expire(s2["id"])["status"] == "expired"
    assert httpx.get(s2["url"]).status_code == 410


def test_hosted_page_shows_the_item_and_pay_redirects_to_success_url(fake: FakeStripe, api: httpx.Client) -> None:
    s = create(api).json()
    page = httpx.get(s["url"])
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "Pack of 100 credits" in page.text and "9.00 USD" in page.text
    assert 'data-testid="pay"' in page.text and f'href="{CANCEL}"' in page.text
    paid = httpx.post(s["url"], data={"email": "payer@example.test"})
    assert paid.status_code == 303
    assert paid.headers["Location"] == SUCCESS.replace("{CHECKOUT_SESSION_ID}", s["id"])
    after = api.get(f"/v1/checkout/sessions/{s['id']}").json()
    assert (after["status"], after["payment_status"], after["url"]) == ("complete", "paid", None)
    assert after["payment_intent"].startswith("pi_")
    assert after["customer_details"]["email"] == "payer@example.test"
    assert "already paid" in httpx.get(s["url"]).text
    assert httpx.post(s["url"]).status_code == 303  # a double click lands on the same page
    assert httpx.get(f"{fake.url}/pay/cs_test_nope").status_code == 404


def test_paying_delivers_a_signed_event_stripe_can_verify(fake: FakeStripe, api: httpx.Client) -> None:
    with WebhookSink() as sink:
        fake.set_webhook_url(sink.url)
        s = create(api).json()
        httpx.post(s["url"])
        [(body, headers)] = sink.wait(1)
    assert headers["Content-Type"].startswith("application/json")
    event = stripe.Webhook.construct_event(body, headers["Stripe-Signature"], fake.webhook_secret)
    assert event["object"] == "event" and event["id"].startswith("evt_")
    assert event["type"] == "checkout.session.completed" and event["livemode"] is False
    assert event["api_version"] and abs(event["created"] - time.time()) < 60
    obj = event["data"]["object"]
    assert (obj["id"], obj["status"], obj["payment_status"]) == (s["id"], "complete", "paid")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, headers["Stripe-Signature"], "whsec_other")


def test_failed_deliveries_are_retried_and_each_attempt_is_signed(fake: FakeStripe, api: httpx.Client) -> None:
    with WebhookSink(statuses=[500, 503]) as sink:
        fake.set_webhook_url(sink.url)
        fake.mark_paid(create(api).json()["id"], notify=True)
        received = sink.wait(3)
        attempts = fake.wait_for_deliveries(3)
    assert [d["status"] for d in attempts] == [500, 503, 200]
    assert [d["attempt"] for d in attempts] == [1, 2, 3]
    assert len({d["event_id"] for d in attempts}) == 1
    for body, headers in received:
        stripe.WebhookSignature.verify_header(body, headers["Stripe-Signature"], fake.webhook_secret, 300)


def test_sign_matches_stripe_python(fake: FakeStripe) -> None:
    payload = b'{"id": "evt_1", "object": "event"}'
    expected = stripe.WebhookSignature.generate_signature_header(payload.decode(), fake.webhook_secret, 1_700_000_000)
    assert fake.sign(payload, ts=1_700_000_000) == expected
    assert fake.sign(payload, secret="whsec_x", ts=1) != fake.sign(payload, ts=1)


def test_controls_deliver_and_charge_refunded(fake: FakeStripe, api: httpx.Client) -> None:
    s = create(api).json()
    paid = fake.mark_paid(s["id"])
    assert (paid["status"], paid["payment_status"]) == ("complete", "paid")
    event = json.loads(fake.charge_refunded(s["id"]))
    charge = event["data"]["object"]
    assert event["type"] == "charge.refunded" and charge["object"] == "charge"
    assert charge["payment_intent"] == paid["payment_intent"] and charge["refunded"] is True
    assert charge["amount_refunded"] == charge["amount"] == 900
    with WebhookSink(statuses=[400]) as sink:
        fake.set_webhook_url(sink.url)
        assert fake.deliver("checkout.session.completed", s["id"], times=3) == [400, 200, 200]
        bodies = [b for b, _ in sink.wait(3)]
    assert len({json.loads(b)["id"] for b in bodies}) == 1  # one event, delivered three times


def test_async_payment_flow(fake: FakeStripe, api: httpx.Client) -> None:
    s = create(api).json()
    processing = fake.mark_paid(s["id"], payment_status="unpaid")
    assert (processing["status"], processing["payment_status"]) == ("complete", "unpaid")
    done = fake.mark_paid(s["id"], async_=True)
    assert done["payment_status"] == "paid"
    event = json.loads(fake.event_for("checkout.session.async_payment_succeeded", s["id"]))
    assert event["data"]["object"]["payment_status"] == "paid"


def test_the_server_stops_itself_after_its_lifetime() -> None:
    fake = FakeStripe(lifetime_s=0.2).start()
    url = fake.url
    time.sleep(0.5)
    assert not fake.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/v1/checkout/sessions/cs_test_x", timeout=1)
    fake.stop()  # idempotent
