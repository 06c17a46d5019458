"""Rule 6: a refund returns a debit's credits to the buckets they came from, once."""

from __future__ import annotations

import pytest

from credits_core.errors import InvalidKey, NotFound
from credits_core.models import Account, Balance
from credits_core.policy import refund_rows
from tests.core.conftest import T0
from tests.core.support import assert_consistent, kinds, user_rows


def test_refund_of_a_mixed_debit_returns_each_bucket_its_share(service, store):
    service.change_plan("u", "intelligence")  # 400 included
    service.adjust("u", "drain", -396, "included", "leave 4")
    service.top_up("u", "pack_100", "cs_1")
    debit = service.debit("u", "valuation_model", "k1")  # 8 = 4 included + 4 purchased
    assert (debit.row.included_delta, debit.row.purchased_delta) == (-4, -4)
    assert debit.balance == Balance(0, 96)
    refund = service.refund("k1", "provider timed out")
    row = refund.row
    assert (row.name, row.kind, row.delta, row.included_delta, row.purchased_delta) == (
        "CZ_SMCR|refund|k1",
        "refund",
        8,
        4,
        4,
    )
    assert row.meta["refundOf"] == "CZ_SMCR|debit|k1" and row.meta["reason"] == "provider timed out"
    assert row.meta["tool"] == "valuation_model" and row.meta["cost"] == 8
    assert refund.balance == Balance(4, 100)
    assert service.state("u").balance == Balance(4, 100)
    assert_consistent(store, "u")


def test_refund_happens_once_and_replays_the_first_answer(service, store):
    service.debit("u", "comps_report", "k1")
    first = service.refund("k1")
    service.debit("u", "ask_ai", "k2")
    again = service.refund("k1", "another reason")
    assert again.replayed and not first.replayed
    assert again.row == first.row and again.balance == first.balance == Balance(100, 0)
    assert kinds(user_rows(store, "u")) == ["grant", "debit", "refund", "debit"]
    assert service.state("u").balance == Balance(99, 0)


def test_refund_of_a_warn_only_debit_returns_nothing(service):
    service.adjust("u", "drain", -100, "included", "empty")
    service.debit("u", "ask_ai", "k1")
    refund = service.refund("k1")
    assert refund.row.delta == 0 and refund.balance == Balance(0, 0)


def test_refund_in_a_later_month_goes_back_to_the_original_buckets(service, clock):
    service.top_up("u", "pack_100", "cs_1")
    service.adjust("u", "drain", -100, "included", "empty")
    service.debit("u", "comps_report", "k1")  # purchased only
    clock.tick(days=40)
    refund = service.refund("k1")
    assert (refund.row.included_delta, refund.row.purchased_delta) == (0, 3)
    assert refund.balance == Balance(100, 100)  # Feb grant 100 + purchased back to 100


def test_unknown_key_is_not_found_and_writes_nothing(service, store):
    with pytest.raises(NotFound) as info:
        service.refund("never-used")
    assert info.value.http_status == 404 and "never-used" in info.value.message
    assert store.rows() == []


def test_refund_key_is_validated(service):
    with pytest.raises(InvalidKey):
        service.refund("bad key")


def test_policy_refuses_a_missing_debit():
    with pytest.raises(NotFound):
        refund_rows(Account("u"), None, "k", "r", T0, None)
