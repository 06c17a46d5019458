"""The stand-in's paginated lists and 429s (``stripe/lists.py``), raw and through stripe-python."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import stripe

from tests.standins.stripe import FakeStripe, rate_limit, set_created
from tests.standins.test_stripe_standin import create


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe(lifetime_s=60) as f:
        yield f


@pytest.fixture
def api(fake: FakeStripe) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, headers={"Authorization": f"Bearer {fake.secret_key}"}, timeout=5) as c:
        yield c


def sessions(fake: FakeStripe, api: httpx.Client, n: int) -> list[str]:
    ids = [create(api).json()["id"] for _ in range(n)]
    for k, sid in enumerate(ids):
        set_created(fake, sid, 1_700_000_000 + k)  # distinct, known times
    return ids


def test_cursor_pagination_newest_first(fake: FakeStripe, api: httpx.Client):
    ids = sessions(fake, api, 5)
    first = api.get("/v1/checkout/sessions", params={"limit": 2}).json()
    assert first["object"] == "list" and first["url"] == "/v1/checkout/sessions" and first["has_more"] is True
    assert [s["id"] for s in first["data"]] == [ids[4], ids[3]]
    nxt = api.get("/v1/checkout/sessions", params={"limit": 2, "starting_after": ids[3]}).json()
    assert [s["id"] for s in nxt["data"]] == [ids[2], ids[1]] and nxt["has_more"] is True
    last = api.get("/v1/checkout/sessions", params={"limit": 2, "starting_after": ids[1]}).json()
    assert [s["id"] for s in last["data"]] == [ids[0]] and last["has_more"] is False
    back = api.get("/v1/checkout/sessions", params={"limit": 2, "ending_before": ids[1]}).json()
    assert [s["id"] for s in back["data"]] == [ids[3], ids[2]]
    bad = api.get("/v1/checkout/sessions", params={"starting_after": "cs_test_nope"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "starting_after"


def test_created_filters(fake: FakeStripe, api: httpx.Client):
    ids = sessions(fake, api, 4)
    got = api.get("/v1/checkout/sessions", params={"created[gte]": 1_700_000_001, "created[lt]": 1_700_000_003}).json()
    assert [s["id"] for s in got["data"]] == [ids[2], ids[1]]


def test_auto_paging_iter_of_stripe_python_walks_every_page(fake: FakeStripe, api: httpx.Client):
    ids = sessions(fake, api, 7)
    client = stripe.StripeClient(fake.secret_key, base_addresses={"api": fake.url}, max_network_retries=0)
    seen = [s.id for s in client.v1.checkout.sessions.list(params={"limit": 3}).auto_paging_iter()]
    assert seen == list(reversed(ids))
    pages = [r for r in fake.requests() if r["path"] == "/v1/checkout/sessions" and r["method"] == "GET"]
    assert [p["params"].get("starting_after") for p in pages] == [None, ids[4], ids[1]]


def test_refunds_are_listed(fake: FakeStripe, api: httpx.Client):
    s = fake.mark_paid(create(api).json()["id"])
    fake.refund(s["id"], 300, notify=False)
    fake.refund(s["id"], 200, notify=False)
    got = api.get("/v1/refunds", params={"payment_intent": s["payment_intent"]}).json()
    assert [r["amount"] for r in got["data"]] == [200, 300]
    assert {r["object"] for r in got["data"]} == {"refund"} and got["data"][0]["charge"].startswith("ch_")
    assert api.get("/v1/refunds", params={"charge": "ch_other"}).json()["data"] == []


def test_rate_limit_answers_429_with_retry_after(fake: FakeStripe, api: httpx.Client):
    rate_limit(fake, 1, retry_after=3)
    r = api.get("/v1/checkout/sessions")
    assert r.status_code == 429 and r.headers["Retry-After"] == "3" and r.headers["Stripe-Should-Retry"] == "true"
    assert r.json()["error"]["code"] == "rate_limit"
    assert api.get("/v1/checkout/sessions").status_code == 200
    rate_limit(fake, 1)
    client = stripe.StripeClient(fake.secret_key, base_addresses={"api": fake.url}, max_network_retries=0)
    with pytest.raises(stripe.RateLimitError) as err:
        client.v1.checkout.sessions.list()
    assert err.value.headers["Retry-After"] == "1"
    rate_limit(fake, 1, after=1)
    assert api.get("/v1/refunds").status_code == 200, "after=1: one GET passes first"
    assert create(api).status_code == 200, "POSTs are never rate limited (their answer would be saved)"
    assert api.get("/v1/checkout/sessions").status_code == 429
