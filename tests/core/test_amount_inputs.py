"""Amounts given to ``top_up`` and ``adjust`` are whole, bounded numbers, or a clear 400 that writes nothing."""

from __future__ import annotations

import pytest

from credits_core.errors import BadRequest


@pytest.mark.parametrize("credits", [2.5, -5, 0, 2**63, "100", True])
def test_top_up_refuses_credits_that_are_not_a_positive_bounded_integer(service, store, credits):
    with pytest.raises(BadRequest) as info:
        service.top_up("u1", "pack_100", "cs_bad", credits=credits, price=1500, currency="usd")
    assert info.value.details["field"] == "credits"
    assert store.tail("u1", 10) == []


@pytest.mark.parametrize("price", [-1, 1.5, 2**70])
def test_top_up_refuses_a_bad_price(service, price):
    with pytest.raises(BadRequest) as info:
        service.top_up("u1", "pack_100", "cs_bad", credits=100, price=price, currency="usd")
    assert info.value.details["field"] == "price"


@pytest.mark.parametrize("delta", [1.5, 2**63, -(2**63), 10**12])
def test_adjust_refuses_non_integers_and_amounts_past_the_bound(service, store, delta):
    with pytest.raises(BadRequest) as info:
        service.adjust("u1", "adj-1", delta, "purchased", "ops")
    assert info.value.details["field"] == "delta"
    assert store.tail("u1", 10) == []


def test_adjust_still_takes_a_bounded_negative_correction(service):
    service.top_up("u1", "pack_100", "cs_ok")
    assert service.adjust("u1", "adj-2", -40, "purchased", "goodwill reversal").balance.purchased == 60
