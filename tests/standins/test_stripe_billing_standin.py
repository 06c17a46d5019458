"""The Stripe stand-in's subscriptions: Checkout in subscription mode, update, cancel, events (raw HTTP)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import stripe

from tests.standins.stripe import FakeStripe, WebhookSink, add_month

SUCCESS = "https://app.example.test/account?subscription=success&session_id={CHECKOUT_SESSION_ID}"
FORM = {
    "mode": "subscription",
    "line_items[0][price_data][currency]": "usd",
    "line_items[0][price_data][unit_amount]": "14900",
    "line_items[0][price_data][product_data][name]": "Intelligence plan",
    "line_items[0][price_data][recurring][interval]": "month",
    "line_items[0][quantity]": "1",
    "client_reference_id": "user_123",
    "metadata[user_id]": "user_123",
    "subscription_data[metadata][user_id]": "user_123",
    "subscription_data[metadata][plan_id]": "intelligence",
    "success_url": SUCCESS,
    "cancel_url": "https://app.example.test/account?subscription=cancel",
}


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe(lifetime_s=60) as f:
        yield f


@pytest.fixture
def api(fake: FakeStripe) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, headers={"Authorization": f"Bearer {fake.secret_key}"}, timeout=5) as c:
        yield c


def subscribe(fake: FakeStripe, api: httpx.Client) -> tuple[dict, dict]:
    """Create a subscription-mode session and pay it on the hosted page → (session, subscription)."""
    r = api.post("/v1/checkout/sessions", data=FORM)
    assert r.status_code == 200, r.text
    session = r.json()
    paid = httpx.post(session["url"], data={"email": "sub@example.test"})
    assert paid.status_code == 303
    session = api.get(f"/v1/checkout/sessions/{session['id']}").json()
    return session, api.get(f"/v1/subscriptions/{session['subscription']}").json()


def update(api: httpx.Client, sub: dict, **form: str) -> httpx.Response:
    return api.post(f"/v1/subscriptions/{sub['id']}", data=form)


def price_change(sub: dict, amount: int, behavior: str = "create_prorations") -> dict[str, str]:
    item = sub["items"]["data"][0]
    return {
        "items[0][id]": item["id"],
        "items[0][price_data][currency]": "usd",
        "items[0][price_data][product]": item["price"]["product"],
        "items[0][price_data][unit_amount]": str(amount),
        "items[0][price_data][recurring][interval]": "month",
        "proration_behavior": behavior,
    }


def test_subscription_mode_session_shows_a_monthly_price(fake: FakeStripe, api: httpx.Client) -> None:
    s = api.post("/v1/checkout/sessions", data=FORM).json()
    assert (s["mode"], s["status"], s["subscription"], s["amount_total"]) == ("subscription", "open", None, 14900)
    page = httpx.get(s["url"]).text
    assert "149.00 USD / month" in page and "Subscribe 149.00 USD" in page


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"line_items[0][price_data][recurring][interval]": None}, "line_items"),  # no recurring price
        ({"line_items[0][price_data][recurring][interval]": "fortnight"}, "recurring][interval]"),
        ({"mode": "payment"}, "line_items"),  # a recurring price in payment mode
    ],
)
def test_subscription_mode_validation(api: httpx.Client, change: dict, param: str) -> None:
    form = {k: v for k, v in {**FORM, **change}.items() if v is not None}
    if change.get("mode") == "payment":
        form = {k: v for k, v in form.items() if not k.startswith("subscription_data")}
    r = api.post("/v1/checkout/sessions", data=form)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"].endswith(param)
    only_sub = {**{k: v for k, v in FORM.items() if "recurring" not in k}, "mode": "payment"}
    r = api.post("/v1/checkout/sessions", data=only_sub)
    assert r.status_code == 400 and r.json()["error"]["param"] == "subscription_data"


def test_paying_creates_customer_subscription_and_paid_invoice(fake: FakeStripe, api: httpx.Client) -> None:
    session, sub = subscribe(fake, api)
    assert (session["status"], session["payment_status"], session["payment_intent"]) == ("complete", "paid", None)
    assert session["customer"].startswith("cus_") and session["invoice"].startswith("in_")
    assert sub["object"] == "subscription" and sub["id"] == session["subscription"]
    assert (sub["status"], sub["cancel_at_period_end"], sub["customer"]) == ("active", False, session["customer"])
    assert sub["metadata"] == {"user_id": "user_123", "plan_id": "intelligence"}
    item = sub["items"]["data"][0]
    assert item["price"]["recurring"]["interval"] == "month" and item["price"]["unit_amount"] == 14900
    assert item["current_period_end"] == add_month(item["current_period_start"])
    assert "current_period_end" not in sub  # basil+: the period lives on the item
    [invoice] = fake.invoices(sub["id"])
    assert (invoice["status"], invoice["amount_paid"], invoice["billing_reason"]) == (
        "paid",
        14900,
        "subscription_create",
    )
    assert invoice["parent"]["subscription_details"]["subscription"] == sub["id"]
    assert api.get(f"/v1/invoices/{invoice['id']}").json() == invoice
    assert api.get(f"/v1/customers/{sub['customer']}").json()["email"] == "sub@example.test"
    assert api.get("/v1/subscriptions/sub_nope").json()["error"]["code"] == "resource_missing"


def test_paying_sends_three_signed_events(fake: FakeStripe, api: httpx.Client) -> None:
    with WebhookSink() as sink:
        fake.set_webhook_url(sink.url)
        _, sub = subscribe(fake, api)
        received = sink.wait(3)
    events = [stripe.Webhook.construct_event(b, h["Stripe-Signature"], fake.webhook_secret) for b, h in received]
    assert [e["type"] for e in events] == [
        "customer.subscription.created",
        "invoice.paid",
        "checkout.session.completed",
    ]
    assert events[0]["data"]["object"]["id"] == sub["id"]
    assert events[2]["data"]["object"]["subscription"] == sub["id"]
    assert [e["id"] for e in fake.events_about(sub["id"])] == [e["id"] for e in events]


def test_update_price_with_proration_metadata_and_event(fake: FakeStripe, api: httpx.Client) -> None:
    _, sub = subscribe(fake, api)
    r = update(api, sub, **price_change(sub, 39900), **{"metadata[plan_id]": "professional"})
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["items"]["data"][0]["price"]["unit_amount"] == 39900
    assert after["items"]["data"][0]["price"]["product"] == sub["items"]["data"][0]["price"]["product"]
    assert after["metadata"] == {"user_id": "user_123", "plan_id": "professional"}
    [proration] = fake.prorations()
    assert proration["behavior"] == "create_prorations" and 0 < proration["amount"] <= 39900 - 14900
    [event] = fake.events_about(sub["id"], ["customer.subscription.updated"])
    previous = event["data"]["previous_attributes"]
    assert previous["metadata"]["plan_id"] == "intelligence"
    assert previous["items"]["data"][0]["price"]["unit_amount"] == 14900
    always = update(api, after, **price_change(after, 49900, "always_invoice"))
    assert always.status_code == 200
    assert [i["billing_reason"] for i in fake.invoices(sub["id"])] == ["subscription_create", "subscription_update"]


@pytest.mark.parametrize(
    ("form", "param"),
    [
        ({"items[0][id]": "si_other"}, "items[0][id]"),
        ({"items[0][price_data][product]": "prod_unknown"}, "items[0][price_data][product]"),
        ({"items[0][price_data][recurring][interval]": None}, "items[0][price_data][recurring]"),
        ({"proration_behavior": "sometimes"}, "proration_behavior"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_updates_are_400(fake: FakeStripe, api: httpx.Client, form: dict, param: str) -> None:
    _, sub = subscribe(fake, api)
    data = {k: v for k, v in {**price_change(sub, 100), **form}.items() if v is not None}
    r = update(api, sub, **data)
    assert r.status_code == 400 and r.json()["error"]["param"] == param, r.text


def test_cancel_at_period_end_then_end_period_deletes(fake: FakeStripe, api: httpx.Client) -> None:
    _, sub = subscribe(fake, api)
    r = update(api, sub, cancel_at_period_end="true")
    assert r.status_code == 200
    s = r.json()
    item = s["items"]["data"][0]
    assert (s["status"], s["cancel_at_period_end"], s["cancel_at"]) == ("active", True, item["current_period_end"])
    assert s["cancellation_details"]["reason"] == "cancellation_requested"
    ended = fake.end_period(sub["id"])
    assert (ended["status"], ended["ended_at"]) == ("canceled", item["current_period_end"])
    types = [e["type"] for e in fake.events_about(sub["id"])]
    assert types[-2:] == ["customer.subscription.updated", "customer.subscription.deleted"]
    assert api.get("/v1/subscriptions", params={"customer": sub["customer"]}).json()["data"] == []
    listed = api.get("/v1/subscriptions", params={"customer": sub["customer"], "status": "all"}).json()
    assert [x["id"] for x in listed["data"]] == [sub["id"]]
    refused = update(api, ended, **price_change(ended, 100))
    assert refused.status_code == 400 and "canceled subscription" in refused.json()["error"]["message"]
    with pytest.raises(ValueError):
        fake.end_period(sub["id"])


def test_end_period_without_cancel_renews_with_an_invoice(fake: FakeStripe, api: httpx.Client) -> None:
    _, sub = subscribe(fake, api)
    end = sub["items"]["data"][0]["current_period_end"]
    renewed = fake.end_period(sub["id"], notify=False)
    item = renewed["items"]["data"][0]
    assert renewed["status"] == "active" and item["current_period_start"] == end
    assert item["current_period_end"] == add_month(end)
    assert [i["billing_reason"] for i in fake.invoices(sub["id"])][-1] == "subscription_cycle"
    assert [e["type"] for e in fake.events_about(sub["id"])][-2:] == ["invoice.paid", "customer.subscription.updated"]


def test_delete_cancels_now(fake: FakeStripe, api: httpx.Client) -> None:
    _, sub = subscribe(fake, api)
    r = api.delete(f"/v1/subscriptions/{sub['id']}")
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    assert fake.events_about(sub["id"])[-1]["type"] == "customer.subscription.deleted"
    assert api.delete(f"/v1/subscriptions/{sub['id']}").status_code == 404


def test_redeliver_repeats_and_shuffles_stored_events(fake: FakeStripe, api: httpx.Client) -> None:
    _, sub = subscribe(fake, api)  # no webhook URL yet: the events are only stored
    ids = [e["id"] for e in fake.events_about(sub["id"])]
    with WebhookSink() as sink:
        fake.set_webhook_url(sink.url)
        assert fake.redeliver(ids, times=3, shuffle_seed=7) == [200] * 9
        bodies = [json.loads(b)["id"] for b, _ in sink.wait(9)]
    assert sorted(bodies) == sorted(ids * 3)
    assert bodies != [i for i in ids for _ in range(3)]  # shuffled


def test_add_month_clamps_to_the_month_end() -> None:
    jan31 = 1_769_817_600  # 2026-01-31T00:00:00Z
    assert add_month(jan31) == 1_772_236_800  # 2026-02-28
    assert add_month(jan31, 12) == 1_801_353_600  # 2027-01-31
