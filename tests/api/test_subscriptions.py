"""Plans as paid Stripe subscriptions over HTTP: subscribe, change, cancel; events in any order.

A server of its own (`streamlit run app.py`) whose users start without a
plan (the server-mode default) and a FakeStripe of its own, so tests can hold
the webhook back and deliver events in the order they choose.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from credits_core.stores.base import RowFilter
from tests.api.conftest import SECRETS, Api, _start, checked_client, uid
from tests.standins.clerk_jwks import ClerkStandIn
from tests.standins.stripe import FakeStripe

INTELLIGENCE, PROFESSIONAL, BASE = 400, 1500, 100  # monthlyIncluded in the default registry


@pytest.fixture(scope="module")
def sub_api(clerk: ClerkStandIn, tmp_path_factory, artifacts_dir: Path) -> Iterator[Api]:
    """Clerk + Stripe configured, users start on no plan (server mode's default)."""
    ledger = tmp_path_factory.mktemp("api-subs") / "ledger.sqlite3"
    fake = FakeStripe(
        secret_key="sk_test_" + secrets.token_hex(12), webhook_secret="whsec_" + secrets.token_hex(16), lifetime_s=900
    ).start()
    env = {
        "CZ_LEDGER": "sqlite",
        "CZ_LEDGER_PATH": str(ledger),
        "CZ_CLOCK": "2026-11-10T12:00:00Z",  # the ledger's month is fixed: grants never depend on today
        "CLERK_SECRET_KEY": clerk.secret_key,
        "CLERK_JWKS_URL": clerk.url,
        "STRIPE_SECRET_KEY": fake.secret_key,
        "STRIPE_WEBHOOK_SECRET": fake.webhook_secret,
        "STRIPE_API_BASE": fake.url,
    }
    SECRETS.update({fake.secret_key, fake.webhook_secret})
    with ExitStack() as stack:
        stack.callback(fake.stop)
        server = _start(stack, env, artifacts_dir / "api")
        fake.set_webhook_url(f"{server.url}/api/stripe-webhook")
        http = stack.enter_context(checked_client(server.url))
        yield Api(server, http, ledger, clerk=clerk, stripe=fake, env=env)


@pytest.fixture
def fake(sub_api: Api) -> FakeStripe:
    assert sub_api.stripe is not None
    return sub_api.stripe


@contextlib.contextmanager
def held(api: Api) -> Iterator[None]:
    """Stripe keeps its events (no webhook) until the block ends; tests deliver them."""
    assert api.stripe is not None
    api.stripe.set_webhook_url(None)
    try:
        yield
    finally:
        api.stripe.set_webhook_url(f"{api.url}/api/stripe-webhook")


def ask(api: Api, user: str, plan: str) -> httpx.Response:
    return api.http.post("/api/credits-subscription", json={"plan": plan}, headers=api.auth(user))


def confirm(api: Api, user: str, session_id: str) -> httpx.Response:
    return api.http.post("/api/credits-subscription/confirm", json={"sessionId": session_id}, headers=api.auth(user))


def pay(api: Api, user: str, plan: str) -> tuple[str, str]:
    """Ask for a plan without a subscription → Checkout; pay on the hosted page → (session, subscription)."""
    r = ask(api, user, plan)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["action"] == "checkout" and body["sessionId"].startswith("cs_") and body["url"]
    with httpx.Client(timeout=10) as browser:
        assert browser.post(body["url"], data={}).status_code == 303
    assert api.stripe is not None
    return body["sessionId"], api.stripe.session(body["sessionId"])["subscription"]


def wait_hooks(fake: FakeStripe, before: int, n: int) -> None:
    """Block until ``n`` more webhook deliveries were accepted (2xx)."""
    fake.wait_for_deliveries(before + n, timeout=30, ok=True)


def accepted(fake: FakeStripe) -> int:
    return len([d for d in fake.deliveries() if 200 <= d["status"] < 300])


def rows(api: Api, user: str, kind: str) -> list:
    with api.store() as store:
        return list(reversed(store.rows(RowFilter(user_id=user, kinds=(kind,)))))


def plan_of(api: Api, user: str) -> str:
    return api.state(user, limit=0)["plan"]


def test_subscribe_pay_and_return_gives_the_plan_and_one_grant(sub_api: Api, fake: FakeStripe):
    user = uid("subscriber")
    assert plan_of(sub_api, user) == "none"
    before = accepted(fake)
    session_id, sub_id = pay(sub_api, user, "intelligence")
    sent = fake.session(session_id)
    assert sent["mode"] == "subscription" and sent["client_reference_id"] == user
    assert sent["metadata"]["plan_id"] == "intelligence" and sent["metadata"]["registry_version"]
    assert fake.subscription(sub_id)["items"]["data"][0]["price"]["unit_amount"] == 14900
    wait_hooks(fake, before, 3)  # subscription.created, invoice.paid, checkout.session.completed
    c = confirm(sub_api, user, session_id)
    assert c.status_code == 200, c.text
    assert c.json()["action"] == "unchanged" and c.json()["plan"] == "intelligence"
    state = sub_api.state(user, limit=0)
    assert state["plan"] == "intelligence" and state["balance"]["included"] == INTELLIGENCE
    [plan_row] = rows(sub_api, user, "plan")
    assert plan_row.meta["subscription"] == sub_id and plan_row.meta["via"] == "webhook"
    assert [r.delta for r in rows(sub_api, user, "upgrade")] == [INTELLIGENCE]


def test_upgrade_then_downgrade_follow_stripe_with_the_dry_run(sub_api: Api, fake: FakeStripe):
    user = uid("changer")
    with held(sub_api):
        session_id, sub_id = pay(sub_api, user, "intelligence")
    assert confirm(sub_api, user, session_id).json()["action"] == "changed"  # the return from Checkout
    before = accepted(fake)
    up = ask(sub_api, user, "professional")
    assert up.status_code == 200, up.text
    body = up.json()
    assert body["action"] == "updated" and body["subscriptionId"] == sub_id and body["currentPlan"] == "intelligence"
    assert body["preview"]["granted"] == PROFESSIONAL - INTELLIGENCE and body["preview"]["trimmed"] == 0
    assert "when Stripe confirms" in body["message"]
    assert fake.prorations()[-1]["behavior"] == "create_prorations"
    wait_hooks(fake, before, 1)
    assert plan_of(sub_api, user) == "professional"
    sub_api.debit(user, f"{user}-q1")  # spend 1 credit: included 1499
    before = accepted(fake)
    down = ask(sub_api, user, "base").json()
    assert down["action"] == "updated" and down["preview"]["trimmed"] == PROFESSIONAL - 1 - 3 * BASE
    wait_hooks(fake, before, 1)
    state = sub_api.state(user, limit=0)
    assert state["plan"] == "base" and state["balance"]["included"] == 3 * BASE
    assert [r.meta["plan"] for r in rows(sub_api, user, "plan")] == ["intelligence", "professional", "base"]
    assert [r.delta for r in rows(sub_api, user, "upgrade")] == [INTELLIGENCE, PROFESSIONAL - INTELLIGENCE]
    assert [r.delta for r in rows(sub_api, user, "trim")] == [-(PROFESSIONAL - 1 - 3 * BASE)]
    again = ask(sub_api, user, "base").json()
    assert again["action"] == "unchanged"


def test_cancel_at_period_end_keeps_the_plan_until_the_period_ends(sub_api: Api, fake: FakeStripe):
    user = uid("canceller")
    before = accepted(fake)
    _, sub_id = pay(sub_api, user, "intelligence")
    wait_hooks(fake, before, 3)
    r = ask(sub_api, user, "none")
    assert r.status_code == 200 and r.json()["action"] == "cancel_at_period_end"
    assert r.json()["cancelAtPeriodEnd"] is True and r.json()["preview"]["trimmed"] == INTELLIGENCE
    wait_hooks(fake, before, 4)
    assert plan_of(sub_api, user) == "intelligence"
    fake.end_period(sub_id)
    wait_hooks(fake, before, 5)
    state = sub_api.state(user, limit=0)
    assert state["plan"] == "none" and state["balance"]["included"] == 0
    r = ask(sub_api, user, "none")
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_subscription"


def test_subscription_events_redelivered_three_times_and_shuffled(sub_api: Api, fake: FakeStripe):
    user = uid("redelivered")
    with held(sub_api):
        _, sub_id = pay(sub_api, user, "intelligence")
    ids = [e["id"] for e in fake.events_about(sub_id)]
    statuses = fake.redeliver(ids, times=3, shuffle_seed=11)
    assert statuses == [200] * 9
    assert len(rows(sub_api, user, "plan")) == 1 and len(rows(sub_api, user, "upgrade")) == 1
    assert plan_of(sub_api, user) == "intelligence"


def test_updated_before_created_then_deleted_before_updated(sub_api: Api, fake: FakeStripe):
    user = uid("shuffled")
    with held(sub_api):
        session_id, sub_id = pay(sub_api, user, "intelligence")
        # The change is made at Stripe before any event reached the app (e.g. in Stripe's portal).
        key = {"Authorization": f"Bearer {fake.secret_key}"}
        item = fake.subscription(sub_id)["items"]["data"][0]
        form = {
            "items[0][id]": item["id"],
            "items[0][price_data][currency]": "usd",
            "items[0][price_data][product]": item["price"]["product"],
            "items[0][price_data][unit_amount]": "39900",
            "items[0][price_data][recurring][interval]": "month",
            "metadata[plan_id]": "professional",
        }
        assert httpx.post(f"{fake.url}/v1/subscriptions/{sub_id}", data=form, headers=key).status_code == 200
    created = [e["id"] for e in fake.events_about(sub_id, ["customer.subscription.created"])]
    updated = [e["id"] for e in fake.events_about(sub_id, ["customer.subscription.updated"])]
    assert fake.redeliver(updated + created) == [200, 200]
    assert [r.meta["plan"] for r in rows(sub_api, user, "plan")] == ["professional"]
    assert [r.delta for r in rows(sub_api, user, "upgrade")] == [PROFESSIONAL]
    with held(sub_api):
        assert ask(sub_api, user, "none").json()["action"] == "cancel_at_period_end"
        fake.end_period(sub_id)
    deleted = [e["id"] for e in fake.events_about(sub_id, ["customer.subscription.deleted"])]
    updated = [e["id"] for e in fake.events_about(sub_id, ["customer.subscription.updated"])]
    assert fake.redeliver(deleted + updated[::-1] + deleted) == [200] * 4
    assert [r.meta["plan"] for r in rows(sub_api, user, "plan")] == ["professional", "none"]
    assert confirm(sub_api, user, session_id).json()["action"] == "unchanged"
    assert sub_api.state(user, limit=0)["balance"]["included"] == 0


def test_confirm_and_webhooks_racing_write_one_plan_row(sub_api: Api, fake: FakeStripe):
    user = uid("racer")
    with held(sub_api):
        session_id, sub_id = pay(sub_api, user, "professional")
    payloads = [fake._encode(e) for e in fake.events_about(sub_id)]
    barrier = threading.Barrier(9)
    codes: list[Any] = []

    def run(job: Any) -> None:
        barrier.wait()
        codes.append(job())

    jobs = [lambda: confirm(sub_api, user, session_id).status_code for _ in range(3)]
    jobs += [lambda p=p: fake.deliver_payload(p) for p in payloads * 2]
    threads = [threading.Thread(target=run, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert codes == [200] * 9
    assert len(rows(sub_api, user, "plan")) == 1 and [r.delta for r in rows(sub_api, user, "upgrade")] == [PROFESSIONAL]


def test_forged_or_stale_subscription_events_are_400_and_write_nothing(sub_api: Api, fake: FakeStripe):
    user = uid("forged")
    with held(sub_api):
        _, sub_id = pay(sub_api, user, "professional")
    [event] = fake.events_about(sub_id, ["customer.subscription.created"])
    payload = fake._encode(event)
    for sig in (fake.sign(payload, secret="whsec_wrong"), fake.sign(payload, ts=1_000_000_000), ""):
        r = sub_api.http.post("/api/stripe-webhook", content=payload, headers={"Stripe-Signature": sig})
        assert r.status_code == 400 and r.json()["error"]["code"] == "webhook_invalid"
    tampered = json.loads(payload)
    tampered["data"]["object"]["metadata"]["user_id"] = "someone_else"
    body = json.dumps(tampered).encode()
    r = sub_api.http.post("/api/stripe-webhook", content=body, headers={"Stripe-Signature": fake.sign(payload)})
    assert r.status_code == 400
    assert rows(sub_api, user, "plan") == [] and plan_of(sub_api, user) == "none"


def test_bad_requests(sub_api: Api, fake: FakeStripe, pem_api: Api):
    user = uid("bad")
    r = ask(sub_api, user, "platinum")
    assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_plan"
    r = ask(sub_api, user, "none")
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_subscription"
    r = sub_api.http.post("/api/credits-subscription", json={"plan": "base", "extra": 1}, headers=sub_api.auth(user))
    assert r.status_code == 400
    assert sub_api.http.post("/api/credits-subscription", json={"plan": "base"}).status_code == 401
    with held(sub_api):
        session_id, _ = pay(sub_api, user, "base")
    r = confirm(sub_api, uid("thief"), session_id)
    assert r.status_code == 403 and user not in r.text
    assert confirm(sub_api, user, "cs_test_unknown").status_code == 404
    open_session = ask(sub_api, uid("later"), "base").json()["sessionId"]
    r = confirm(sub_api, fake.session(open_session)["client_reference_id"], open_session)
    assert r.status_code == 409 and r.json()["error"]["code"] == "checkout_not_paid"
    r = pem_api.http.post("/api/credits-subscription", json={"plan": "base"}, headers=pem_api.auth(user))
    assert r.status_code == 503 and r.json()["error"]["code"] == "payments_disabled"
    assert "admin" in r.json()["error"]["message"]
