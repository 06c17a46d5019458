"""Stripe refunds over HTTP (issue 12, items 3 and 4), FakeStripe standing in for Stripe."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from credits_core.stores.base import RowFilter
from tests.api.conftest import Api, uid
from tests.api.test_stripe import PACK_CREDITS, checkout, confirm, purchased
from tests.standins.stripe import FakeStripe


@pytest.fixture
def stripe(api: Api) -> FakeStripe:
    assert api.stripe is not None
    return api.stripe


def hook(api: Api, stripe: FakeStripe, payload: bytes) -> httpx.Response:
    return api.http.post("/api/stripe-webhook", content=payload, headers={"Stripe-Signature": stripe.sign(payload)})


def credited_net(api: Api, user: str) -> int:
    """What the user's top-ups and Stripe refund rows add up to."""
    with api.store() as store:
        rows = store.rows(RowFilter(user_id=user, kinds=("topup", "adjust")))
    return sum(r.delta for r in rows)


@pytest.mark.parametrize("refund, net", [(None, 0), (600, 60)], ids=["full", "partial40"])
def test_refund_before_credit_credits_only_what_was_kept(
    api: Api, stripe: FakeStripe, user: str, refund: int | None, net: int
):
    sid = checkout(api, user)["sessionId"]  # 1500 usd for 100 credits
    stripe.mark_paid(sid)
    payload = stripe.charge_refunded(sid, amount=refund)  # refunded before anything was credited
    for _ in range(2):  # delivered twice, answered 200: Stripe will not send it again
        r = hook(api, stripe, payload)
        assert r.status_code == 200, r.text
    assert confirm(api, user, sid).status_code == 200
    assert stripe.deliver("checkout.session.completed", sid, times=2) == [200, 200]
    assert purchased(api, user) == net and credited_net(api, user) == net


def test_concurrent_partial_refunds_take_back_exactly_the_refunded_fraction(api: Api, stripe: FakeStripe):
    users, pairs = [], []
    for _ in range(6):
        user = uid("conc")
        sid = checkout(api, user)["sessionId"]
        stripe.mark_paid(sid)
        assert confirm(api, user, sid).status_code == 200
        first = stripe.charge_refunded(sid, amount=450)  # 30 %
        second = stripe.charge_refunded(sid, amount=450)  # 60 % in all
        users.append(user)
        pairs.append((first, second))
    barrier = threading.Barrier(2)

    def send(payload: bytes) -> int:
        with httpx.Client(base_url=api.url, timeout=60) as client:
            barrier.wait()
            return client.post(
                "/api/stripe-webhook", content=payload, headers={"Stripe-Signature": stripe.sign(payload)}
            ).status_code

    with ThreadPoolExecutor(2) as pool:
        for first, second in pairs:
            assert list(pool.map(send, (first, second))) == [200, 200]
    taken = {u: PACK_CREDITS - purchased(api, u) for u in users}
    assert taken == {u: 60 for u in users}


def test_refunds_made_at_stripe_reach_the_webhook_and_every_path_converges(api: Api, stripe: FakeStripe, user: str):
    sid = checkout(api, user)["sessionId"]
    stripe.mark_paid(sid)  # paid, but no checkout.session.completed sent yet
    before = len(stripe.deliveries())
    stripe.refund(sid, 300)  # POST /v1/refunds: 20 %, charge.refunded delivered by the stand-in
    stripe.wait_for_deliveries(before + 1, timeout=10, ok=True)
    assert purchased(api, user) == 80  # the refund credited the session itself, net
    c = confirm(api, user, sid)
    assert c.status_code == 200 and c.json()["replayed"] is True and c.json()["row"]["delta"] == 80
    assert c.json()["row"]["meta"]["via"] == "refund" and c.json()["row"]["meta"]["refundedCredits"] == 20
    stripe.refund(sid)  # the rest
    stripe.wait_for_deliveries(before + 2, timeout=10, ok=True)
    assert purchased(api, user) == 0 and credited_net(api, user) == 0
    assert stripe.deliver("checkout.session.completed", sid) == [200]
    assert purchased(api, user) == 0
