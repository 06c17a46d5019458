"""Rules 4 and 5: the debit decision and idempotent replays."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .. import keys
from ..errors import IdempotencyConflict, PaymentRequired, PlanRequired
from ..models import Account, Balance, DebitResult, Row
from ..registry import Registry
from .grants import current_plan
from .ledger import Decision, new_row

WARN_ONLY = "insufficient credits: allowed because enforcement is off (warn-only); nothing was charged"


def decide_debit(
    acc: Account, registry: Registry, tool_id: str, key: str, now: datetime, *, enforce: bool, top_up: dict[str, Any] | None = None
) -> Decision[DebitResult]:
    """Charge ``tool_id`` once under ``key``: included credits first, then purchased.

    Raises ``UnknownTool``, ``PlanRequired`` (always enforced) or, with
    ``enforce``, ``PaymentRequired`` carrying required/balance/topUp. In
    warn-only mode a short balance writes a zero-delta row with ``shortfall``.
    The balance never goes negative.
    """
    tool = registry.tool(tool_id)
    plan = current_plan(acc, registry)
    if tool.min_plan and registry.plan(tool.min_plan).rank > plan.rank:
        raise PlanRequired(
            f"{tool.label} needs the {registry.plan(tool.min_plan).label} plan or higher (you are on {plan.label})",
            tool=tool.id, requiredPlan=tool.min_plan, plan=plan.id,
        )
    bal = acc.balance
    cost = tool.credits
    common = dict(tool=tool.id, cost=cost, registryVersion=registry.version, plan=plan.id, month=acc.month)
    if cost <= bal.total:
        from_included = min(cost, bal.included)
        after = Balance(bal.included - from_included, bal.purchased - (cost - from_included))
        row = new_row(acc, keys.debit_name(key), "debit", -cost, -from_included, now, **common, balanceAfter=after.to_dict())
        return Decision([row], DebitResult(row=row, balance=after))
    if enforce:
        raise PaymentRequired(
            f"{tool.label} costs {_credits(cost)} and your balance is {_credits(bal.total)}",
            tool=tool.id, required=cost, balance=bal.to_dict(), topUp=top_up or {},
        )
    row = new_row(
        acc, keys.debit_name(key), "debit", 0, 0, now,
        **common, shortfall=cost, warning=WARN_ONLY, balanceAfter=bal.to_dict(),
    )
    return Decision([row], DebitResult(row=row, balance=bal, warning=WARN_ONLY))


def replay_debit(existing: Row, user_id: str, tool_id: str) -> DebitResult:
    """The first answer again, or ``idempotency_conflict`` naming the caller's differing field.

    Nothing about the other request leaks: not its user, tool, or amounts.
    """
    if existing.user_id != user_id or existing.kind != "debit":
        raise IdempotencyConflict(
            "this idempotencyKey was already used for another request; use a new key",
            field="userId",
        )
    if existing.meta.get("tool") != tool_id:
        raise IdempotencyConflict(
            f"this idempotencyKey was already used by you for a different tool than {tool_id!r}; use a new key",
            field="tool",
        )
    return DebitResult(
        row=existing,
        balance=Balance.from_dict(existing.meta["balanceAfter"]),
        replayed=True,
        warning=existing.meta.get("warning"),
    )


def _credits(n: int) -> str:
    return f"{n} credit" if n == 1 else f"{n} credits"
