"""Rule 7 (top-up once per Checkout session) and ops adjustments."""

from __future__ import annotations

import pytest

from credits_core.errors import BadRequest, IdempotencyConflict, UnknownPack
from credits_core.models import Balance
from tests.core.support import assert_consistent, kinds, user_rows


def test_top_up_credits_the_purchased_bucket(service):
    res = service.top_up("u", "pack_500", "cs_test_1")
    row = res.row
    assert (row.name, row.kind, row.delta, row.included_delta, row.purchased_delta, row.bucket) == (
        "CZ_SMCR|topup|cs_test_1",
        "topup",
        500,
        0,
        500,
        "purchased",
    )
    assert row.meta["pack"] == "pack_500" and row.meta["price"] == 6000 and row.meta["currency"] == "usd"
    assert res.balance == Balance(100, 500)


def test_top_up_happens_once_per_session(service, store):
    first = service.top_up("u", "pack_100", "cs_1")
    again = service.top_up("u", "pack_100", "cs_1")  # webhook after confirm
    assert again.replayed and again.row == first.row and again.balance == first.balance
    assert kinds(user_rows(store, "u")) == ["grant", "topup"]
    assert service.state("u").balance == Balance(100, 100)


def test_a_session_credited_to_one_user_conflicts_for_another(service, store):
    service.top_up("alice", "pack_100", "cs_1")
    with pytest.raises(IdempotencyConflict) as info:
        service.top_up("bob", "pack_100", "cs_1")
    assert "alice" not in str(info.value.to_dict())
    assert user_rows(store, "bob") == []


def test_paid_amount_wins_over_a_changed_registry(service):
    res = service.top_up("u", "pack_100", "cs_1", credits=120, price=1500, currency="usd")
    assert res.row.delta == 120 and res.balance.purchased == 120


def test_retired_pack_is_credited_from_the_session_details(service):
    res = service.top_up("u", "pack_old", "cs_1", credits=50, price=900, currency="usd")
    assert res.row.delta == 50 and res.row.meta["pack"] == "pack_old"
    with pytest.raises(UnknownPack):
        service.top_up("u", "pack_old", "cs_2")


def test_purchased_credits_survive_rollovers_and_downgrades(service, store, clock):
    service.change_plan("u", "professional")
    service.top_up("u", "pack_2000", "cs_1")
    for _ in range(4):
        clock.tick(days=31)
        service.state("u")
    service.change_plan("u", "base")
    assert service.state("u").balance == Balance(300, 2000)
    assert all(r.purchased_delta >= 0 for r in user_rows(store, "u"))


def test_adjust_either_bucket_once_per_key(service, store):
    a = service.adjust("u", "ops-1", 50, "purchased", "goodwill")
    b = service.adjust("u", "ops-1", 999, "included", "a retry")
    assert b.replayed and b.row == a.row
    assert a.row.name == "CZ_SMCR|adjust|ops-1" and a.row.purchased_delta == 50
    assert service.state("u").balance == Balance(100, 50)
    service.adjust("u", "ops-2", -40, "included", "correction")
    assert service.state("u").balance == Balance(60, 50)
    assert_consistent(store, "u")


@pytest.mark.parametrize(("delta", "bucket"), [(-101, "included"), (-1, "purchased")])
def test_adjust_never_takes_a_bucket_below_zero(service, store, delta, bucket):
    with pytest.raises(BadRequest) as info:
        service.adjust("u", "ops-1", delta, bucket, "too much")
    assert info.value.details["field"] == "delta"
    assert store.rows() == []


def test_adjust_needs_a_known_bucket(service):
    with pytest.raises(BadRequest) as info:
        service.adjust("u", "ops-1", 5, "gift", "?")
    assert info.value.details["field"] == "bucket"


def test_adjust_key_of_another_user_conflicts(service):
    service.adjust("alice", "ops-1", 5, "included", "x")
    with pytest.raises(IdempotencyConflict):
        service.adjust("bob", "ops-1", 5, "included", "x")
