"""Rule 3: plan change with trim to the new soft cap and a bounded upgrade grant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .. import keys
from ..errors import IdempotencyConflict
from ..models import Account, Balance, PlanChange, Row
from ..registry import Registry
from .grants import current_plan, trim_row
from .ledger import Decision, Lookup, new_row

# What a plan row states about the change itself; callers' metadata never overrides it.
_PLAN_FACTS = frozenset(
    {"plan", "previousPlan", "month", "peak", "registryVersion", "granted", "trimmed", "balanceAfter"}
)


def plan_change_rows(
    acc: Account,
    registry: Registry,
    plan_id: str,
    request_id: str,
    now: datetime,
    lookup: Lookup,
    *,
    dry_run: bool = False,
    **meta: Any,
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
    name = keys.plan_name(acc.user_id, request_id)
    existing = lookup(name)
    if existing is not None:
        return Decision([], _replay(existing, new.id, registry))
    if new.id == old.id:
        change = PlanChange(old.id, new.id, 0, 0, acc.balance, new.soft_cap, new.monthly_included, dry_run)
        return Decision([], change)
    trimmed = max(0, acc.balance.included - new.soft_cap)
    granted = 0
    upgrade = keys.upgrade_name(acc.user_id, month, new.id)
    if new.rank > old.rank and lookup(upgrade) is None:
        granted = max(0, min(new.monthly_included - acc.month_peak, new.soft_cap - (acc.balance.included - trimmed)))
    after = Balance(acc.balance.included - trimmed + granted, acc.balance.purchased)
    rows = [
        new_row(
            acc,
            name,
            "plan",
            0,
            0,
            now,
            plan=new.id,
            previousPlan=old.id,
            month=month,
            peak=max(acc.month_peak, new.monthly_included),
            registryVersion=registry.version,
            granted=granted,
            trimmed=trimmed,
            balanceAfter=after.to_dict(),
            **{k: v for k, v in meta.items() if k not in _PLAN_FACTS},
        )
    ]
    cur = acc.with_rows(rows)
    if trimmed:
        rows.append(trim_row(cur, month, new, trimmed, now, reason="plan change"))
    if granted:
        rows.append(
            new_row(
                cur,
                upgrade,
                "upgrade",
                granted,
                granted,
                now,
                month=month,
                plan=new.id,
                previousPlan=old.id,
                peak=new.monthly_included,
                registryVersion=registry.version,
            )
        )
    change = PlanChange(
        old.id,
        new.id,
        granted,
        trimmed,
        after,
        new.soft_cap,
        new.monthly_included,
        dry_run,
        tuple(rows),
    )
    return Decision([] if dry_run else rows, change)


def _replay(existing: Row, plan_id: str, registry: Registry) -> PlanChange:
    """The first answer to a repeated ``requestId``; another plan under it is a conflict."""
    meta = existing.meta
    if meta.get("plan") != plan_id:
        raise IdempotencyConflict(
            f"this requestId was already used to change to another plan than {plan_id!r}; use a new requestId",
            field="plan",
        )
    plan = registry.plan(plan_id)
    return PlanChange(
        meta.get("previousPlan", plan_id),
        plan_id,
        int(meta.get("granted", 0)),
        int(meta.get("trimmed", 0)),
        Balance.from_dict(meta["balanceAfter"]) if "balanceAfter" in meta else Balance(),
        plan.soft_cap,
        plan.monthly_included,
        replayed=True,
    )
