"""Rules 4 and 5: the debit decision and idempotent replays."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .. import keys
from ..errors import IdempotencyConflict, InsufficientCredits, PlanRequired
from ..models import Account, Balance, DebitResult, Row
from ..registry import NO_PLAN, Plan, Registry, Tool
from ..text import credits_text
from .grants import current_plan
from .ledger import Decision, new_row

# Where a plan is bought (a plan_required answer carries it).
SUBSCRIBE_PATH = {"api": "POST /api/credits-subscription", "accountUrl": "/account#plan"}
WARN_ONLY = "insufficient credits: allowed because enforcement is off (warn-only); nothing was charged"


def decide_debit(
    acc: Account,
    registry: Registry,
    tool_id: str,
    key: str,
    now: datetime,
    *,
    enforce: bool,
    top_up: dict[str, Any] | None = None,
) -> Decision[DebitResult]:
    """Charge ``tool_id`` once under ``key``: included credits first, then purchased.

    Raises ``UnknownTool``, ``PlanRequired`` (always enforced) or, with
    ``enforce``, ``InsufficientCredits`` carrying required/balance/topUp. In
    warn-only mode a short balance writes a zero-delta row with ``shortfall``.
    The balance never goes negative.
    """
    tool, plan = gate(acc, registry, tool_id)
    bal = acc.balance
    cost = tool.credits
    available = bal.total - acc.held  # active holds are reserved (expired ones were released before)
    common = dict(tool=tool.id, cost=cost, registryVersion=registry.version, plan=plan.id, month=acc.month)
    from_included = split_cost(bal.included, bal.purchased, cost) if cost <= available else None
    if from_included is not None:
        after = Balance(bal.included - from_included, bal.purchased - (cost - from_included))
        row = new_row(
            acc, keys.debit_name(key), "debit", -cost, -from_included, now, **common, balanceAfter=after.to_dict()
        )
        return Decision([row], DebitResult(row=row, balance=after))
    if enforce:
        raise InsufficientCredits(
            f"{tool.label} costs {credits_text(cost)} and your balance is {credits_text(bal.total)}",
            tool=tool.id,
            required=cost,
            balance=bal.to_dict(),
            available=max(0, available),
            topUp=top_up or {},
        )
    row = new_row(
        acc,
        keys.debit_name(key),
        "debit",
        0,
        0,
        now,
        **common,
        shortfall=cost,
        warning=WARN_ONLY,
        balanceAfter=bal.to_dict(),
    )
    return Decision([row], DebitResult(row=row, balance=bal, warning=WARN_ONLY))


def gate(acc: Account, registry: Registry, tool_id: str) -> tuple[Tool, Plan]:
    """The tool and the user's plan, or ``UnknownTool`` / ``PlanRequired`` (always enforced)."""
    tool = registry.tool(tool_id)
    plan = current_plan(acc, registry)
    if not registry.allows(plan.id, tool.id):
        assert tool.min_plan is not None
        now_on = "you have no subscription" if plan.id == NO_PLAN else f"you are on {plan.label}"
        raise PlanRequired(
            f"{tool.label} needs the {registry.plan(tool.min_plan).label} plan or higher ({now_on})",
            tool=tool.id,
            requiredPlan=tool.min_plan,
            plan=plan.id,
            subscribe=SUBSCRIBE_PATH,
        )
    return tool, plan


def split_cost(included: int, purchased: int, cost: int) -> int | None:
    """The part of ``cost`` taken from the included bucket (spent first), or ``None`` when not covered."""
    if cost > included + purchased:
        return None
    return min(cost, included)


def replay_debit(existing: Row, user_id: str, tool_id: str, refund: Row | None = None) -> DebitResult:
    """The first answer again, or ``idempotency_conflict`` naming the caller's differing field.

    Nothing about the other request leaks: not its user, tool, or amounts.
    ``refund`` (the refund row of this debit, if any) is shown beside the first
    answer, so a replay never reads as "charged" for a refunded action.
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
        refund=refund,
    )
