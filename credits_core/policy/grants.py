"""Rule 1: the monthly grant, with catch-up of missed months and the soft cap."""

from __future__ import annotations

from datetime import datetime

from .. import keys
from ..clock import month_of, months_between
from ..models import Account, Row
from ..registry import Plan, Registry
from .ledger import new_row


def current_plan(acc: Account, registry: Registry) -> Plan:
    """The user's plan; new users (and retired plan ids) fall back to the default."""
    plan_id = acc.plan or registry.default_plan
    try:
        return registry.plan(plan_id)
    except Exception:
        return registry.plan(registry.default_plan)


def grant_amount(included: int, plan: Plan) -> int:
    """``min(monthlyIncluded, softCap − included)``, never negative."""
    return max(0, min(plan.monthly_included, plan.soft_cap - included))


def rollover_rows(acc: Account, registry: Registry, now: datetime) -> list[Row]:
    """Grant rows for every month not yet granted, up to ``now``'s month.

    A new user gets the current month only. Each month is capped on its
    own; if the included bucket is above the cap (the registry lowered it)
    a trim row brings it back, so after a rollover included ≤ soft cap.
    """
    month = month_of(now)
    pending = [month] if acc.month is None else months_between(acc.month, month)
    rows: list[Row] = []
    plan = current_plan(acc, registry)
    for m in pending:
        amount = grant_amount(acc.balance.included, plan)
        grant = new_row(
            acc,
            keys.grant_name(acc.user_id, m),
            "grant",
            amount,
            amount,
            now,
            month=m,
            plan=plan.id,
            peak=plan.monthly_included,
            registryVersion=registry.version,
        )
        rows.append(grant)
        acc = acc.with_rows([grant])
        excess = acc.balance.included - plan.soft_cap
        if excess > 0:
            trim = trim_row(acc, m, plan, excess, now, reason="soft cap at rollover")
            rows.append(trim)
            acc = acc.with_rows([trim])
    return rows


def trim_row(acc: Account, month: str, plan: Plan, amount: int, now: datetime, *, reason: str) -> Row:
    """The row that takes ``amount`` included credits above ``plan``'s soft cap (the next trim of ``acc``)."""
    return new_row(
        acc,
        keys.trim_name(acc.user_id, month, acc.trim_seq + 1),
        "trim",
        -amount,
        -amount,
        now,
        month=month,
        plan=plan.id,
        reason=reason,
        softCap=plan.soft_cap,
    )
