"""Stripe refunds of top-ups (``policy.stripe_refunds``) through the service, in any order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from credits_core import CreditsService, FixedClock, MemoryStore
from credits_core.policy.stripe_refunds import ChargeState, refund_chain_name, wanted_back
from credits_core.registry import MemoryRegistryRepository
from credits_core.stores.base import RowFilter
from tests.core.conftest import T0
from tests.core.support import assert_consistent

PRICE, CREDITS, CHARGE = 1500, 100, "ch_test_1"


def settle(service: CreditsService, refunded: int, user: str = "u", sid: str = "cs_test_1"):
    charge = ChargeState(CHARGE, PRICE, refunded, "usd")
    return service.settle_top_up(user, "pack_100", sid, charge=charge, credits=CREDITS, price=PRICE, currency="usd")


def test_wanted_back_is_the_refunded_fraction_rounded_down():
    def at(refunded: int) -> int:
        return wanted_back(CREDITS, ChargeState(CHARGE, PRICE, refunded))

    assert [at(0), at(1), at(14), at(15), at(600), at(1499), at(PRICE), at(PRICE + 5)] == [0, 0, 0, 1, 40, 99, 100, 100]
    assert wanted_back(CREDITS, None) == 0 and wanted_back(CREDITS, ChargeState(CHARGE, 0, 0)) == 0


def test_a_refunded_payment_is_credited_net_and_later_refunds_chain(service, store):
    first = settle(service, 600)  # 40 % refunded before the credit
    assert (first.topup.row.delta, first.topup.row.meta["refundedCredits"], first.refund) == (60, 40, None)
    assert first.topup.row.meta["charge"] == CHARGE and first.topup.row.meta["credits"] == CREDITS
    again = settle(service, 600)  # a redelivery: nothing new
    assert again.topup.replayed and again.refund is None
    rest = settle(service, PRICE)
    assert rest.refund is not None and rest.refund.name == refund_chain_name(CHARGE, 1) == (
        "CZ_SMCR|adjust|stripe-refund:ch_test_1:1"
    )
    assert (rest.refund.delta, rest.refund.meta["wanted"], rest.refund.meta["refundedAmount"]) == (-60, 60, PRICE)
    assert settle(service, 900).refund is None  # an older state arriving late
    assert assert_consistent(store, "u").balance.purchased == 0


def test_a_fully_refunded_payment_is_never_credited(service):
    done = settle(service, PRICE)
    assert done.topup.row.delta == 0 and done.topup.balance.purchased == 0
    assert settle(service, PRICE).refund is None


def test_what_was_spent_is_short_for_finance(service):
    settle(service, 0)
    service.adjust("u", "spent", -75, "purchased", "spent")
    half = settle(service, 750)
    assert (half.refund.delta, half.refund.meta["short"]) == (-25, 25)
    assert "short 25" in half.refund.meta["reason"]
    rest = settle(service, PRICE)
    assert (rest.refund.delta, rest.refund.meta["short"], rest.refund.meta["wanted"]) == (0, 50, 50)


# Stripe's timeline: cumulative refunded amounts, growing; the app sees states in any order.
refund_steps = st.lists(st.integers(1, PRICE), max_size=4).map(
    lambda xs: sorted({min(PRICE, sum(xs[: i + 1])) for i in range(len(xs))})
)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), states=refund_steps)
def test_any_order_of_deliveries_converges(data, states):
    store = MemoryStore()
    service = CreditsService(store, MemoryRegistryRepository(), clock=FixedClock(T0))
    # each state delivered 1-2 times, plus one or two credits (confirm / completed) that read any state
    deliveries = [s for s in states for _ in range(data.draw(st.integers(1, 2)))]
    deliveries += [data.draw(st.sampled_from([0, *states])) for _ in range(data.draw(st.integers(1, 2)))]
    order = data.draw(st.permutations(deliveries))
    spend = data.draw(st.lists(st.integers(0, 120), min_size=len(order), max_size=len(order)))
    for refunded, spent in zip(order, spend, strict=True):
        settle(service, refunded)
        left = store.account("u").balance.purchased
        if spent and left:
            service.adjust("u", f"spend-{len(store.rows())}", -min(spent, left), "purchased", "spent")
    rows = store.rows(RowFilter(user_id="u"))
    topups = [r for r in rows if r.kind == "topup"]
    chain = [r for r in rows if r.name.startswith("CZ_SMCR|adjust|stripe-refund:")]
    assert len(topups) == 1
    final = max(order)
    netted = int(topups[0].meta.get("refundedCredits", 0))
    # what the charge's refunds wanted back is exactly pack × final fraction, taken or short
    assert netted + sum(r.meta["wanted"] for r in chain) == wanted_back(CREDITS, ChargeState(CHARGE, PRICE, final))
    assert all(-r.delta + r.meta.get("short", 0) == r.meta["wanted"] for r in chain)
    seen = [int(topups[0].meta.get("refundedAmount", 0))] + [r.meta["refundedAmount"] for r in reversed(chain)]
    assert seen == sorted(set(seen))  # each refund state accounted once
    if not any(spend):
        assert store.account("u").balance.purchased == CREDITS - wanted_back(
            CREDITS, ChargeState(CHARGE, PRICE, final)
        )
    assert_consistent(store, "u")
