"""Top-ups through Stripe Checkout over HTTP, with FakeStripe standing in for Stripe."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from credits_core.stores.base import RowFilter
from tests.api.conftest import TEN, Api, uid
from tests.standins.stripe import FakeStripe

PACK, PACK_CREDITS = "pack_100", 100


@pytest.fixture
def stripe(api: Api) -> FakeStripe:
    assert api.stripe is not None
    return api.stripe


def checkout(api: Api, user: str, pack: str = PACK, **headers: str) -> dict:
    r = api.http.post("/api/credits-checkout", json={"pack": pack}, headers={**api.auth(user), **headers})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"url", "sessionId"} and body["sessionId"].startswith("cs_")
    return body


def confirm(api: Api, user: str, session_id: str) -> httpx.Response:
    return api.http.post("/api/credits-checkout/confirm", json={"sessionId": session_id}, headers=api.auth(user))


def topups(api: Api, user: str) -> list:
    with api.store() as store:
        return store.rows(RowFilter(user_id=user, kinds=("topup",)))


def purchased(api: Api, user: str) -> int:
    return api.state(user, limit=0)["balance"]["purchased"]


def test_checkout_pay_on_hosted_page_then_confirm(api: Api, stripe: FakeStripe, user: str):
    session = checkout(api, user)
    sent = stripe.session(session["sessionId"])
    assert sent["metadata"]["user_id"] == user and sent["metadata"]["credits"] == str(PACK_CREDITS)
    assert sent["amount_total"] == 1500 and sent["currency"] == "usd"
    before = len(stripe.deliveries())
    # the customer pays on the hosted page; Stripe then sends checkout.session.completed
    with httpx.Client(timeout=10) as browser:
        r = browser.post(session["url"], data={"email": "buyer@example.test"})
    assert r.status_code == 303 and session["sessionId"] in r.headers["location"]
    stripe.wait_for_deliveries(before + 1, timeout=10, ok=True)
    assert purchased(api, user) == PACK_CREDITS
    # the browser returns and confirms: the webhook came first, so this replays
    c = confirm(api, user, session["sessionId"])
    assert c.status_code == 200 and c.json()["replayed"] is True
    assert c.json()["row"]["name"] == f"CZ_SMCR|topup|{session['sessionId']}"
    assert c.json()["row"]["meta"]["via"] == "webhook"
    assert len(topups(api, user)) == 1 and purchased(api, user) == PACK_CREDITS


def test_confirm_ten_times_and_webhook_three_times_credit_once(api: Api, stripe: FakeStripe, user: str):
    sid = checkout(api, user)["sessionId"]
    stripe.mark_paid(sid)
    first = confirm(api, user, sid)
    assert first.status_code == 200, first.text
    d = first.json()
    assert d["replayed"] is False and d["row"]["kind"] == "topup" and d["row"]["delta"] == PACK_CREDITS
    assert d["balance"] == {"total": 200, "included": 100, "purchased": 100}
    assert d["row"]["meta"]["price"] == 1500 and d["row"]["meta"]["paymentIntent"].startswith("pi_")
    for _ in range(9):
        again = confirm(api, user, sid)
        assert again.status_code == 200 and again.json()["replayed"] is True and again.json()["row"] == d["row"]
    assert stripe.deliver("checkout.session.completed", sid, times=3) == [200, 200, 200]
    assert len(topups(api, user)) == 1 and purchased(api, user) == PACK_CREDITS


def test_confirm_and_webhook_racing_credit_once(api: Api, stripe: FakeStripe, user: str):
    sid = checkout(api, user)["sessionId"]
    stripe.mark_paid(sid)
    payload = stripe.event_for("checkout.session.completed", sid)
    with ThreadPoolExecutor(12) as pool:
        confirms = [pool.submit(confirm, api, user, sid) for _ in range(6)]
        hooks = [pool.submit(stripe.deliver_payload, payload) for _ in range(6)]
        codes = [f.result().status_code for f in confirms] + [f.result() for f in hooks]
    assert codes == [200] * 12
    rows = topups(api, user)
    assert len(rows) == 1 and rows[0].delta == PACK_CREDITS
    assert purchased(api, user) == PACK_CREDITS


def test_async_payment_waits_for_success(api: Api, stripe: FakeStripe, user: str):
    sid = checkout(api, user)["sessionId"]
    stripe.mark_paid(sid, payment_status="unpaid")  # a delayed payment method, still processing
    payload = stripe.event_for("checkout.session.completed", sid)
    r = api.http.post("/api/stripe-webhook", content=payload, headers={"Stripe-Signature": stripe.sign(payload)})
    assert r.status_code == 200 and r.json()["action"] == "pending"
    c = confirm(api, user, sid)
    assert c.status_code == 409 and c.json()["error"]["reason"] == "processing"
    assert topups(api, user) == []
    stripe.mark_paid(sid, payment_status="paid", async_=True)
    payload = stripe.event_for("checkout.session.async_payment_succeeded", sid)
    r = api.http.post("/api/stripe-webhook", content=payload, headers={"Stripe-Signature": stripe.sign(payload)})
    assert r.status_code == 200 and r.json() == {"received": True, "action": "credited", "sessionId": sid}
    assert purchased(api, user) == PACK_CREDITS


def test_unpaid_and_expired_are_409(api: Api, stripe: FakeStripe, user: str):
    open_sid = checkout(api, user)["sessionId"]
    r = confirm(api, user, open_sid)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "checkout_not_paid" and r.json()["error"]["reason"] == "open"
    expired = checkout(api, user)["sessionId"]
    stripe.expire(expired)
    r = confirm(api, user, expired)
    assert r.status_code == 409 and r.json()["error"]["reason"] == "expired"
    assert topups(api, user) == [] and purchased(api, user) == 0


def test_another_users_session_is_403(api: Api, stripe: FakeStripe, user: str):
    sid = checkout(api, user)["sessionId"]
    stripe.mark_paid(sid)
    thief = uid("thief")
    r = confirm(api, thief, sid)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert user not in r.text
    assert topups(api, thief) == [] and topups(api, user) == []


def test_unknown_session_and_pack(api: Api, user: str):
    r = confirm(api, user, "cs_test_doesnotexist")
    assert r.status_code == 404 and r.json()["error"]["code"] == "checkout_not_found"
    r = api.http.post("/api/credits-checkout", json={"pack": "pack_9999"}, headers=api.auth(user))
    assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_pack"
    r = api.http.post("/api/credits-checkout/confirm", json={"sessionId": "not-a-session"}, headers=api.auth(user))
    assert r.status_code == 400 and r.json()["error"]["problems"][0]["field"] == "sessionId"


def test_checkout_idempotency_key_returns_the_same_session(api: Api, user: str):
    a = checkout(api, user, **{"Idempotency-Key": f"{user}-buy-1"})
    b = checkout(api, user, **{"Idempotency-Key": f"{user}-buy-1"})
    assert a == b
    r = api.http.post(
        "/api/credits-checkout",
        json={"pack": "pack_500"},
        headers={**api.auth(user), "Idempotency-Key": f"{user}-buy-1"},
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "idempotency_conflict"
    assert checkout(api, user)["sessionId"] != a["sessionId"]  # no key: a new session


@pytest.mark.parametrize("case", ["forged", "stale", "malformed", "missing", "unsigned_body_changed"])
def test_bad_webhooks_are_400_and_credit_nothing(api: Api, stripe: FakeStripe, user: str, case: str):
    sid = checkout(api, user)["sessionId"]
    stripe.mark_paid(sid)
    payload = stripe.event_for("checkout.session.completed", sid)
    headers = {"Stripe-Signature": stripe.sign(payload)}
    if case == "forged":
        headers = {"Stripe-Signature": stripe.sign(payload, secret="whsec_not_the_right_one")}
    elif case == "stale":
        headers = {"Stripe-Signature": stripe.sign(payload, ts=int(time.time()) - 3600)}
    elif case == "malformed":
        payload = b'{"id": "evt_1", "object": "event", "type": '
        headers = {"Stripe-Signature": stripe.sign(payload)}
    elif case == "missing":
        headers = {}
    elif case == "unsigned_body_changed":
        payload = payload.replace(sid.encode(), b"cs_test_someone_else")
    r = api.http.post("/api/stripe-webhook", content=payload, headers={**headers, "content-type": "application/json"})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "webhook_invalid" and error["reason"]
    if case == "stale":
        assert error["reason"] == "stale"
    assert topups(api, user) == []


def test_other_events_are_ignored(api: Api, stripe: FakeStripe, user: str):
    sid = checkout(api, user)["sessionId"]
    stripe.expire(sid)
    payload = stripe.event_for("checkout.session.expired", sid)
    r = api.http.post("/api/stripe-webhook", content=payload, headers={"Stripe-Signature": stripe.sign(payload)})
    assert r.status_code == 200 and r.json()["action"] == "ignored"
    event = json.dumps({"id": "evt_x", "object": "event", "type": "customer.created", "data": {"object": {}}}).encode()
    r = api.http.post("/api/stripe-webhook", content=event, headers={"Stripe-Signature": stripe.sign(event)})
    assert r.status_code == 200 and r.json() == {"received": True, "action": "ignored"}


def test_charge_refunded_takes_purchased_credits_back_once(api: Api, stripe: FakeStripe, user: str, priced_tools):
    sid = checkout(api, user)["sessionId"]
    stripe.mark_paid(sid)
    assert confirm(api, user, sid).status_code == 200
    # half refunded, delivered twice: -50 once
    half = stripe.charge_refunded(sid, amount=750)
    for _ in range(2):
        r = api.http.post("/api/stripe-webhook", content=half, headers={"Stripe-Signature": stripe.sign(half)})
        assert r.status_code == 200 and r.json()["action"] == "refund_recorded"
    assert purchased(api, user) == 50
    # the user spends 125: the included 100 first, then 25 of the purchased 50
    for i in range(17):
        assert api.debit(user, f"{user}-spend-{i}", tool=TEN if i < 12 else "ask_ai").status_code == 200
    st = api.state(user, limit=0)["balance"]
    assert st["included"] == 0 and st["purchased"] == 25
    # the rest refunded: wants the other 50 back, only 25 are left
    rest = stripe.charge_refunded(sid)
    r = api.http.post("/api/stripe-webhook", content=rest, headers={"Stripe-Signature": stripe.sign(rest)})
    assert r.status_code == 200
    assert api.state(user, limit=0)["balance"] == {"total": 0, "included": 0, "purchased": 0}
    with api.store() as store:
        adjusts = store.rows(RowFilter(user_id=user, kinds=("adjust",)))
    assert sorted(a.delta for a in adjusts) == [-50, -25]
    assert any("short 25" in a.meta["reason"] for a in adjusts)


def test_stripe_down_is_502_and_credits_nothing(api: Api, stripe: FakeStripe, user: str):
    stripe.fail_next(3, "drop")  # the gateway retries twice
    r = api.http.post("/api/credits-checkout", json={"pack": PACK}, headers=api.auth(user))
    assert r.status_code == 502, r.text
    assert r.json()["error"]["code"] == "payment_provider_error" and r.json()["error"]["reason"] == "unreachable"
    sid = checkout(api, user)["sessionId"]
    stripe.mark_paid(sid)
    stripe.fail_next(3, 500)
    r = confirm(api, user, sid)
    assert r.status_code == 502 and r.json()["error"]["reason"] == "provider_error"
    assert topups(api, user) == []
    assert confirm(api, user, sid).status_code == 200  # Stripe is back: the retry credits it
    assert len(topups(api, user)) == 1


def test_payments_disabled_without_stripe_key(pem_api: Api, bare_api: Api, user: str):
    r = pem_api.http.post("/api/credits-checkout", json={"pack": PACK}, headers=pem_api.auth(user))
    assert r.status_code == 503 and r.json()["error"]["code"] == "payments_disabled"
    r = pem_api.http.post("/api/credits-checkout/confirm", json={"sessionId": "cs_test_x"}, headers=pem_api.auth(user))
    assert r.status_code == 503 and r.json()["error"]["code"] == "payments_disabled"
    for server in (pem_api, bare_api):
        r = server.http.post("/api/stripe-webhook", content=b"{}", headers={"Stripe-Signature": "t=1,v1=00"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "payments_disabled"
