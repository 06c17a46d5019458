"""Rule 1: monthly grant, its soft cap, catch-up of missed months (pure policy)."""

from __future__ import annotations

from datetime import UTC, datetime

from credits_core.models import Account, Balance, Row
from credits_core.policy import rollover_rows
from credits_core.policy.grants import current_plan, grant_amount
from credits_core.policy.ledger import new_row

JAN = datetime(2026, 1, 15, 12, tzinfo=UTC)
MAY = datetime(2026, 5, 2, 8, tzinfo=UTC)


def roll(acc: Account, registry, now: datetime) -> tuple[list[Row], Account]:
    rows = rollover_rows(acc, registry, now)
    return rows, acc.with_rows(rows)


def test_new_user_gets_the_current_month_only(registry):
    rows, acc = roll(Account("u"), registry, JAN)
    assert [(r.name, r.kind, r.delta, r.included_delta) for r in rows] == [
        ("CZ_SMCR|grant|u|2026-01", "grant", 100, 100)
    ]
    assert rows[0].meta["month"] == "2026-01" and rows[0].meta["plan"] == "base"
    assert rows[0].meta["registryVersion"] == registry.version
    assert acc.balance == Balance(100, 0)
    assert (acc.month, acc.month_peak, acc.month_granted) == ("2026-01", 100, 100)


def test_second_touch_in_the_same_month_grants_nothing(registry):
    _, acc = roll(Account("u"), registry, JAN)
    assert rollover_rows(acc, registry, JAN.replace(day=31, hour=23)) == []


def test_grant_is_capped_by_the_soft_cap(registry):
    # Base: 100/month, soft cap 300. Included 250 → only 50 fit.
    _, acc = roll(Account("u"), registry, JAN)
    acc = acc.with_rows([new_row(acc, "CZ_SMCR|adjust|a", "adjust", 150, 150, JAN)])
    rows, acc = roll(acc, registry, JAN.replace(month=2))
    assert [r.delta for r in rows] == [50]
    assert acc.balance.included == 300
    # At the cap: a zero grant row is still written (it marks the month done).
    rows, acc = roll(acc, registry, JAN.replace(month=3))
    assert [(r.kind, r.delta) for r in rows] == [("grant", 0)]
    assert acc.month == "2026-03"


def test_missed_months_are_caught_up_in_order_each_capped(registry):
    # Jan 100, then nothing until May: Feb +100 (200), Mar +100 (300), Apr +0, May +0.
    _, acc = roll(Account("u"), registry, JAN)
    rows, acc = roll(acc, registry, MAY)
    assert [(r.meta["month"], r.delta) for r in rows] == [
        ("2026-02", 100),
        ("2026-03", 100),
        ("2026-04", 0),
        ("2026-05", 0),
    ]
    assert [r.name for r in rows] == [f"CZ_SMCR|grant|u|2026-0{m}" for m in (2, 3, 4, 5)]
    assert acc.balance == Balance(300, 0)
    assert acc.month == "2026-05"


def test_catch_up_with_spending_in_between_is_still_capped_per_month(registry):
    _, acc = roll(Account("u"), registry, JAN)
    acc = acc.with_rows([new_row(acc, "CZ_SMCR|debit|k", "debit", -90, -90, JAN)])  # included 10
    rows, acc = roll(acc, registry, datetime(2026, 6, 1, tzinfo=UTC))
    # Feb 110, Mar 210, Apr 300 (+90 capped), May 0, Jun 0
    assert [r.delta for r in rows] == [100, 100, 90, 0, 0]
    assert acc.balance.included == 300


def test_catch_up_across_a_year_boundary(registry):
    _, acc = roll(Account("u"), registry, datetime(2025, 11, 30, 23, 59, tzinfo=UTC))
    rows, _ = roll(acc, registry, datetime(2026, 1, 1, 0, 0, tzinfo=UTC))
    assert [r.meta["month"] for r in rows] == ["2025-12", "2026-01"]


def test_grant_never_touches_purchased_credits(registry):
    _, acc = roll(Account("u"), registry, JAN)
    acc = acc.with_rows([new_row(acc, "CZ_SMCR|topup|cs_1", "topup", 5000, 0, JAN)])
    rows, acc = roll(acc, registry, MAY)
    assert all(r.purchased_delta == 0 for r in rows)
    assert acc.balance == Balance(300, 5000)


def test_included_above_the_cap_is_trimmed_at_rollover(registry):
    # e.g. a refund or an adjustment put included above the cap: the next
    # rollover writes a zero grant and a trim back to the cap.
    _, acc = roll(Account("u"), registry, JAN)
    acc = acc.with_rows([new_row(acc, "CZ_SMCR|adjust|a", "adjust", 400, 400, JAN)])  # 500 > 300
    rows, acc = roll(acc, registry, JAN.replace(month=2))
    assert [(r.kind, r.delta) for r in rows] == [("grant", 0), ("trim", -200)]
    assert rows[1].name == "CZ_SMCR|trim|u|2026-02|1"
    assert rows[1].meta["reason"] == "soft cap at rollover"
    assert acc.balance.included == 300


def test_grant_uses_the_current_plan(registry):
    _, acc = roll(Account("u"), registry, JAN)
    acc = acc.with_rows([new_row(acc, "CZ_SMCR|plan|u|r1", "plan", 0, 0, JAN, plan="professional", peak=1500)])
    rows, acc = roll(acc, registry, JAN.replace(month=3))
    assert [r.delta for r in rows] == [1500, 1500]
    assert [r.meta["plan"] for r in rows] == ["professional", "professional"]
    assert acc.balance.included == 3100


def test_grant_amount_is_never_negative(registry):
    base = registry.plan("base")
    assert grant_amount(0, base) == 100
    assert grant_amount(250, base) == 50
    assert grant_amount(300, base) == 0
    assert grant_amount(10_000, base) == 0


def test_unknown_plan_id_falls_back_to_the_default_plan(registry):
    acc = Account("u", plan="retired_plan")
    assert current_plan(acc, registry).id == "base"
    assert current_plan(Account("u"), registry).id == "base"
