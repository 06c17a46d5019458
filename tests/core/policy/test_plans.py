"""Rule 3: plan change — trim to the new soft cap, bounded upgrade grant, dry run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from credits_core.errors import IdempotencyConflict, UnknownPlan
from credits_core.models import Account, Balance
from credits_core.policy import plan_change_rows, rollover_rows
from tests.core.support import assert_consistent, kinds, user_rows

JAN = datetime(2026, 1, 15, 12, tzinfo=UTC)


def fresh(registry) -> Account:
    acc = Account("u")
    return acc.with_rows(rollover_rows(acc, registry, JAN))


def test_upgrade_grants_the_difference_of_monthly_grants(registry):
    acc = fresh(registry)  # base, 100 included
    decision = plan_change_rows(acc, registry, "intelligence", "r1", JAN, lambda _n: None)
    change = decision.result
    assert (change.previous_plan, change.plan, change.granted, change.trimmed) == ("base", "intelligence", 300, 0)
    assert change.balance == Balance(400, 0)
    assert (change.soft_cap, change.monthly_included) == (1200, 400)
    assert [(r.name, r.kind, r.delta) for r in decision.rows] == [
        ("CZ_SMCR|plan|u|r1", "plan", 0),
        ("CZ_SMCR|upgrade|u|2026-01|intelligence", "upgrade", 300),
    ]
    after = acc.with_rows(decision.rows)
    assert (after.plan, after.month_peak, after.month_granted) == ("intelligence", 400, 400)


def test_upgrade_grant_is_skipped_when_its_row_already_exists(registry):
    acc = fresh(registry)
    decision = plan_change_rows(
        acc, registry, "intelligence", "r1", JAN, lambda n: object() if "|upgrade|" in n else None
    )
    assert decision.result.granted == 0
    assert kinds(decision.rows) == ["plan"]


def test_a_repeated_request_id_replays_the_first_answer(registry):
    acc = fresh(registry)
    first = plan_change_rows(acc, registry, "professional", "r1", JAN, lambda _n: None)
    plan_row = first.rows[0]
    after = acc.with_rows(first.rows)
    again = plan_change_rows(
        after, registry, "professional", "r1", JAN, lambda n: plan_row if n == plan_row.name else None
    )
    assert again.rows == []
    assert again.result.replayed is True
    assert (again.result.granted, again.result.trimmed, again.result.balance) == (
        first.result.granted,
        first.result.trimmed,
        first.result.balance,
    )


def test_a_request_id_reused_for_another_plan_is_a_conflict(registry):
    acc = fresh(registry)
    first = plan_change_rows(acc, registry, "professional", "r1", JAN, lambda _n: None)
    plan_row = first.rows[0]
    with pytest.raises(IdempotencyConflict) as err:
        plan_change_rows(
            acc.with_rows(first.rows),
            registry,
            "intelligence",
            "r1",
            JAN,
            lambda n: plan_row if n == plan_row.name else None,
        )
    assert err.value.details == {"field": "plan"}


def test_upgrade_grant_is_capped_by_the_new_soft_cap(registry):
    acc = fresh(registry)
    acc = acc.with_rows(
        [*plan_change_rows(acc, registry, "intelligence", "r1", JAN, lambda _n: None).rows]
    )  # 400 included
    from credits_core.policy.ledger import new_row

    acc = acc.with_rows([new_row(acc, "CZ_SMCR|adjust|a", "adjust", 700, 700, JAN)])  # 1100 included
    change = plan_change_rows(acc, registry, "professional", "r2", JAN, lambda _n: None).result
    # would be 1500 - 400 = 1100, but the cap of Professional (4500) leaves room for 3400: 1100
    assert change.granted == 1100
    acc2 = acc.with_rows([new_row(acc, "CZ_SMCR|adjust|b", "adjust", 3000, 3000, JAN)])  # 4100 included
    change = plan_change_rows(acc2, registry, "professional", "r3", JAN, lambda _n: None).result
    assert change.granted == 400  # 4500 - 4100
    assert change.balance.included == 4500


def test_base_int_base_int_grants_300_then_nothing(service, store):
    service.state("u")
    first = service.change_plan("u", "intelligence")
    down = service.change_plan("u", "base")
    again = service.change_plan("u", "intelligence")
    assert (first.granted, first.trimmed) == (300, 0)
    assert first.balance == Balance(400, 0)
    assert (down.granted, down.trimmed) == (0, 100)  # 400 → Base cap 300
    assert down.balance == Balance(300, 0)
    assert (again.granted, again.trimmed) == (0, 0)
    assert again.balance == Balance(300, 0)
    rows = user_rows(store, "u")
    assert kinds(rows) == ["grant", "plan", "upgrade", "plan", "trim", "plan"]
    granted = sum(r.delta for r in rows if r.kind in ("grant", "upgrade"))
    assert granted == 400  # never more than the highest plan held this month
    assert_consistent(store, "u")


def test_upgrade_after_a_higher_plan_this_month_grants_nothing(service):
    service.state("u")
    assert service.change_plan("u", "professional").granted == 1400
    assert service.change_plan("u", "base").trimmed == 1200  # 1500 → 300
    assert service.change_plan("u", "intelligence").granted == 0  # 400 < peak 1500


def test_upgrade_in_steps_never_exceeds_the_highest_plan(service, store):
    service.state("u")
    assert service.change_plan("u", "intelligence").granted == 300
    assert service.change_plan("u", "professional").granted == 1100
    rows = user_rows(store, "u")
    assert sum(r.delta for r in rows if r.kind in ("grant", "upgrade")) == 1500


def test_next_month_grants_per_the_new_plan(service, clock):
    service.state("u")
    service.change_plan("u", "intelligence")
    clock.at = datetime(2026, 2, 3, tzinfo=UTC)
    state = service.state("u")
    assert state.balance == Balance(800, 0)
    assert service.change_plan("u", "base").trimmed == 500
    assert service.change_plan("u", "intelligence").granted == 0  # Feb peak already 400


def test_downgrade_trims_included_only_never_purchased(service, store):
    service.state("u")
    service.change_plan("u", "professional")  # 1500 included
    service.top_up("u", "pack_2000", "cs_1")
    change = service.change_plan("u", "base")
    assert change.trimmed == 1200
    assert change.balance == Balance(300, 2000)
    trim = user_rows(store, "u")[-1]
    assert (trim.kind, trim.delta, trim.included_delta, trim.purchased_delta) == ("trim", -1200, -1200, 0)
    assert trim.name == "CZ_SMCR|trim|u|2026-01|1"
    assert trim.meta["reason"] == "plan change" and trim.meta["softCap"] == 300


def test_downgrade_below_the_cap_trims_nothing(service, store):
    service.state("u")
    service.change_plan("u", "intelligence")
    service.debit("u", "valuation_model", "k1")
    service.adjust("u", "spend", -300, "included", "test")  # included 92
    change = service.change_plan("u", "base")
    assert (change.trimmed, change.granted) == (0, 0)
    assert kinds(user_rows(store, "u"))[-1] == "plan"


def test_second_trim_in_a_month_gets_the_next_sequence_number(service, store):
    service.state("u")
    service.change_plan("u", "professional")
    service.change_plan("u", "intelligence")  # 1500 ok under 1200? no: trim 300
    service.change_plan("u", "base")  # trim 900
    trims = [r for r in user_rows(store, "u") if r.kind == "trim"]
    assert [(r.name, r.delta) for r in trims] == [
        ("CZ_SMCR|trim|u|2026-01|1", -300),
        ("CZ_SMCR|trim|u|2026-01|2", -900),
    ]


def test_same_plan_is_a_no_op(service, store):
    service.state("u")
    change = service.change_plan("u", "base")
    assert (change.granted, change.trimmed, change.rows) == (0, 0, ())
    assert kinds(user_rows(store, "u")) == ["grant"]


@pytest.mark.parametrize("path", [["intelligence"], ["professional", "base"], ["intelligence", "base", "intelligence"]])
def test_dry_run_equals_the_real_change_and_writes_nothing(make_ledger, path):
    svc, store = make_ledger("memory")
    svc.top_up("u", "pack_500", "cs_dry")
    for plan in path:
        before = user_rows(store, "u")
        account_before = store.account("u")
        preview = svc.change_plan("u", plan, dry_run=True)
        assert preview.dry_run is True
        assert user_rows(store, "u") == before
        assert store.account("u") == account_before
        real = svc.change_plan("u", plan)
        assert (preview.previous_plan, preview.plan, preview.granted, preview.trimmed, preview.balance) == (
            real.previous_plan,
            real.plan,
            real.granted,
            real.trimmed,
            real.balance,
        )
        assert [(r.kind, r.delta) for r in preview.rows] == [(r.kind, r.delta) for r in real.rows]


def test_dry_run_of_a_new_user_includes_the_pending_grant_and_writes_nothing(service, store):
    preview = service.change_plan("new", "intelligence", dry_run=True)
    assert (preview.granted, preview.balance) == (300, Balance(400, 0))
    assert store.rows() == []
    assert store.account("new") == Account("new")


def test_dry_run_across_a_month_boundary_matches_the_real_change(service, clock):
    service.state("u")
    service.change_plan("u", "professional")
    clock.at = datetime(2026, 4, 1, tzinfo=UTC)
    preview = service.change_plan("u", "intelligence", dry_run=True)
    real = service.change_plan("u", "intelligence")
    assert (preview.trimmed, preview.balance) == (real.trimmed, real.balance) == (3300, Balance(1200, 0))


def test_unknown_plan_writes_nothing(service, store):
    with pytest.raises(UnknownPlan) as info:
        service.change_plan("u", "platinum")
    assert "platinum" in info.value.message and "base" in info.value.message
    assert store.rows() == []


def test_the_plan_row_records_the_change(service):
    change = service.change_plan("u", "intelligence", request_id="req-1")
    plan_row = change.rows[0]
    assert plan_row.name == "CZ_SMCR|plan|u|req-1"
    assert plan_row.meta["plan"] == "intelligence" and plan_row.meta["previousPlan"] == "base"
    assert service.state("u").plan == "intelligence"
