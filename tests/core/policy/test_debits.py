"""Rules 4 and 5: debit decision, warn-only vs enforce, gates, idempotent replay."""

from __future__ import annotations

import pytest

from credits_core.errors import IdempotencyConflict, InsufficientCredits, PlanRequired, UnknownTool
from credits_core.models import Account, Balance
from credits_core.policy import decide_debit, replay_debit
from credits_core.policy.debits import SUBSCRIBE_PATH, WARN_ONLY
from tests.core.conftest import T0
from tests.core.support import assert_consistent, kinds, user_rows


def account(included: int = 0, purchased: int = 0, plan: str | None = None) -> Account:
    return Account("u", Balance(included, purchased), plan=plan, month="2026-01")


def test_debit_spends_included_first(registry):
    d = decide_debit(account(10, 50), registry, "comps_report", "k1", T0, enforce=True)
    (row,) = d.rows
    assert (row.name, row.kind, row.delta, row.included_delta, row.purchased_delta) == (
        "CZ_SMCR|debit|k1",
        "debit",
        -3,
        -3,
        0,
    )
    assert d.result.balance == Balance(7, 50)
    assert row.meta == {
        "tool": "comps_report",
        "cost": 3,
        "registryVersion": 1,
        "plan": "base",
        "month": "2026-01",
        "balanceAfter": {"total": 57, "included": 7, "purchased": 50},
    }


def test_debit_spanning_both_buckets_takes_the_rest_from_purchased(registry):
    d = decide_debit(account(2, 50, "intelligence"), registry, "valuation_model", "k", T0, enforce=True)
    (row,) = d.rows
    assert (row.delta, row.included_delta, row.purchased_delta, row.bucket) == (-8, -2, -6, "mixed")
    assert d.result.balance == Balance(0, 44)


def test_debit_from_purchased_only(registry):
    (row,) = decide_debit(account(0, 5), registry, "ask_ai", "k", T0, enforce=True).rows
    assert (row.included_delta, row.purchased_delta, row.bucket) == (0, -1, "purchased")


def test_exact_balance_is_enough_and_leaves_zero(registry):
    d = decide_debit(account(1, 2), registry, "comps_report", "k", T0, enforce=True)
    assert d.result.balance == Balance(0, 0)


def test_enforce_refuses_a_short_balance_with_required_balance_and_top_up(registry):
    path = {"packs": [{"id": "pack_100"}], "accountUrl": "/account#credits"}
    with pytest.raises(InsufficientCredits) as info:
        decide_debit(account(1, 1), registry, "comps_report", "k", T0, enforce=True, top_up=path)
    err = info.value
    assert (err.code, err.http_status) == ("insufficient_credits", 402)
    assert err.details["required"] == 3
    assert err.details["balance"] == {"total": 2, "included": 1, "purchased": 1}
    assert err.details["topUp"] == path


def test_warn_only_writes_a_zero_row_with_shortfall(registry):
    d = decide_debit(account(1, 1), registry, "comps_report", "k", T0, enforce=False)
    (row,) = d.rows
    assert (row.delta, row.included_delta) == (0, 0)
    assert row.meta["shortfall"] == 3 and row.meta["cost"] == 3
    assert d.result.warning == WARN_ONLY
    assert d.result.balance == Balance(1, 1)  # nothing charged, never negative


def test_free_tool_is_charged_zero_without_shortfall(registry):
    d = decide_debit(account(0, 0), registry, "watchlist_alert", "k", T0, enforce=True)
    (row,) = d.rows
    assert row.delta == 0 and "shortfall" not in row.meta and d.result.warning is None


@pytest.mark.parametrize("enforce", [True, False])
def test_plan_required_is_always_enforced(registry, enforce):
    with pytest.raises(PlanRequired) as info:
        decide_debit(account(1000, 1000), registry, "portfolio_scan", "k", T0, enforce=enforce)
    err = info.value
    assert (err.code, err.http_status) == ("plan_required", 403)
    assert err.details == {"tool": "portfolio_scan", "requiredPlan": "professional", "plan": "base", "subscribe": SUBSCRIBE_PATH}


@pytest.mark.parametrize(
    ("plan", "tool", "allowed"),
    [
        ("base", "ask_ai_deep", False),
        ("intelligence", "ask_ai_deep", True),
        ("intelligence", "portfolio_scan", False),
        ("professional", "portfolio_scan", True),
        ("professional", "ask_ai", True),
    ],
)
def test_gates_follow_plan_rank(registry, plan, tool, allowed):
    acc = account(100, 0, plan)
    if allowed:
        assert decide_debit(acc, registry, tool, "k", T0, enforce=True).rows
    else:
        with pytest.raises(PlanRequired):
            decide_debit(acc, registry, tool, "k", T0, enforce=True)


def test_unknown_tool(registry):
    with pytest.raises(UnknownTool) as info:
        decide_debit(account(100), registry, "teleport", "k", T0, enforce=True)
    assert (info.value.code, info.value.http_status) == ("unknown_tool", 400)
    assert "teleport" in info.value.message


# -- through the service --------------------------------------------------------


def test_enforce_writes_nothing_not_even_the_pending_grant(enforced, store):
    enforced.adjust("u", "drain", -100, "included", "empty it")
    before = user_rows(store, "u")
    with pytest.raises(InsufficientCredits) as info:
        enforced.debit("u", "ask_ai", "k1")
    assert info.value.details["topUp"]["packs"][0]["id"] == "pack_100"
    assert info.value.details["topUp"]["accountUrl"] == "/account#credits"
    assert user_rows(store, "u") == before
    assert store.find("CZ_SMCR|debit|k1") is None


def test_a_refused_key_can_be_used_again_after_a_top_up(enforced):
    enforced.adjust("u", "drain", -100, "included", "empty it")
    with pytest.raises(InsufficientCredits):
        enforced.debit("u", "comps_report", "k1")
    enforced.top_up("u", "pack_100", "cs_1")
    res = enforced.debit("u", "comps_report", "k1")
    assert (res.replayed, res.balance) == (False, Balance(0, 97))


def test_warn_only_through_the_service(service):
    service.adjust("u", "drain", -98, "included", "leave 2")
    res = service.debit("u", "comps_report", "k1")
    assert res.warning and res.row.delta == 0 and res.row.meta["shortfall"] == 3
    assert res.balance == Balance(2, 0)
    assert res.to_dict()["warning"] == WARN_ONLY
    assert service.state("u").balance == Balance(2, 0)


def test_replay_returns_the_first_answer_and_writes_nothing(service, store):
    first = service.debit("u", "comps_report", "k1")
    service.debit("u", "ask_ai", "k2")  # the balance moves on
    again = service.debit("u", "comps_report", "k1")
    assert again.replayed is True and first.replayed is False
    assert again.row == first.row
    assert again.balance == first.balance == Balance(97, 0)  # the first answer, not today's balance
    assert kinds(user_rows(store, "u")) == ["grant", "debit", "debit"]
    assert service.state("u").balance == Balance(96, 0)


def test_replay_of_a_warn_only_debit_keeps_its_warning_even_after_enforce(service):
    service.adjust("u", "drain", -100, "included", "empty")
    first = service.debit("u", "ask_ai", "k1")
    service.enforce = True
    again = service.debit("u", "ask_ai", "k1")
    assert again.replayed and again.warning == first.warning == WARN_ONLY


def test_replay_is_permanent_across_months_and_plan_changes(service, clock):
    first = service.debit("u", "ask_ai", "k1")
    clock.tick(days=90)
    service.change_plan("u", "professional")
    again = service.debit("u", "ask_ai", "k1")
    assert again.replayed and again.row == first.row and again.balance == first.balance


def test_same_key_for_another_user_is_a_conflict_revealing_nothing(service, store):
    service.top_up("alice", "pack_2000", "cs_a")
    service.debit("alice", "comps_report", "shared-key")
    with pytest.raises(IdempotencyConflict) as info:
        service.debit("bob", "comps_report", "shared-key")
    err = info.value
    assert (err.code, err.http_status) == ("idempotency_conflict", 409)
    assert err.details == {"field": "userId"}
    text = str(err.to_dict())
    for secret in ("alice", "comps_report", "2097", "2100", "Comparable"):
        assert secret not in text
    assert user_rows(store, "bob") == []


def test_same_key_for_another_tool_names_only_the_callers_field(service, store):
    service.debit("u", "comps_report", "k1")
    with pytest.raises(IdempotencyConflict) as info:
        service.debit("u", "ask_ai", "k1")
    err = info.value
    assert err.details == {"field": "tool"}
    assert "ask_ai" in err.message and "comps_report" not in str(err.to_dict())
    assert len(user_rows(store, "u")) == 2


def test_replay_helper_rejects_non_debit_rows(service, store):
    service.debit("u", "ask_ai", "k1")
    row = store.find("CZ_SMCR|debit|k1")
    assert replay_debit(row, "u", "ask_ai").replayed
    with pytest.raises(IdempotencyConflict):
        replay_debit(row, "v", "ask_ai")


def test_registry_change_never_reprices_past_rows(service, store):
    service.debit("u", "comps_report", "k1")
    doc = service.registry.to_json()
    for tool in doc["tools"]:
        if tool["id"] == "comps_report":
            tool["credits"] = 10
    service.registries.save(doc)
    assert service.registry.version == 2
    again = service.debit("u", "comps_report", "k1")
    assert again.replayed and again.row.delta == -3 and again.row.meta["registryVersion"] == 1
    new = service.debit("u", "comps_report", "k2")
    assert new.row.delta == -10 and new.row.meta["cost"] == 10 and new.row.meta["registryVersion"] == 2
    refund = service.refund("k1")
    assert refund.row.delta == 3  # the price paid, not today's price
    assert store.find("CZ_SMCR|debit|k1").delta == -3
    assert_consistent(store, "u")
