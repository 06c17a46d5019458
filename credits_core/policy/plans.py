"""Rule 3: plan change with trim to the new soft cap and a bounded upgrade grant."""

from __future__ import annotations

from datetime import datetime

from .. import keys
from ..models import Account, PlanChange
from ..registry import Registry
from .grants import current_plan
from .ledger import Decision, Lookup, new_row


def plan_change_rows(
    acc: Account, registry: Registry, plan_id: str, request_id: str, now: datetime, lookup: Lookup, *, dry_run: bool = False
) -> Decision[PlanChange]:
    """Move ``acc`` to ``plan_id`` (``acc`` must already be rolled over to this month).

    The included bucket is trimmed to the new soft cap. An upgrade grants
    ``new.monthlyIncluded − highest monthlyIncluded already held this month``
    (capped by the new soft cap), so grants in a month never exceed the
    highest plan held in it and switching down and up again grants nothing.
    """
    new = registry.plan(plan_id)
    old = current_plan(acc, registry)
    month = acc.month
    if new.id == old.id:
        change = PlanChange(old.id, new.id, 0, 0, acc.balance, new.soft_cap, new.monthly_included, dry_run)
        return Decision([], change)
    rows = [
        new_row(
            acc, keys.plan_name(acc.user_id, request_id), "plan", 0, 0, now,
            plan=new.id, previousPlan=old.id, month=month,
            peak=max(acc.month_peak, new.monthly_included), registryVersion=registry.version,
        )
    ]
    after = acc.with_rows(rows)
    trimmed = max(0, after.balance.included - new.soft_cap)
    if trimmed:
        trim = new_row(
            after, keys.trim_name(acc.user_id, month, after.trim_seq + 1), "trim", -trimmed, -trimmed, now,
            month=month, plan=new.id, reason="plan change", softCap=new.soft_cap,
        )
        rows.append(trim)
        after = after.with_rows([trim])
    granted = 0
    if new.rank > old.rank:
        granted = max(0, min(new.monthly_included - acc.month_peak, new.soft_cap - after.balance.included))
        name = keys.upgrade_name(acc.user_id, month, new.id)
        if granted and lookup(name) is None:
            up = new_row(
                after, name, "upgrade", granted, granted, now,
                month=month, plan=new.id, previousPlan=old.id, peak=new.monthly_included,
                registryVersion=registry.version,
            )
            rows.append(up)
            after = after.with_rows([up])
        else:
            granted = 0
    change = PlanChange(
        old.id, new.id, granted, trimmed, after.balance, new.soft_cap, new.monthly_included,
        dry_run, tuple(rows),
    )
    return Decision([] if dry_run else rows, change)
