"""Pricing preview: what a month costs a persona on each plan (pure, no I/O).

For one persona (monthly uses per tool) and one plan:

* **credits needed** = Σ uses × tool credits, over the tools the plan allows
  (a tool whose ``minPlan`` ranks above the plan is *blocked*: listed, not
  counted — the persona cannot use it on that plan);
* **included** = the plan's ``monthlyIncluded`` (steady state: a persona who
  spends at least the grant every month never carries credits over, so the
  soft cap does not come into play);
* **top-ups** = the cheapest combination of packs whose credits cover
  ``needed − included`` (:func:`cheapest_packs`, an unbounded covering
  knapsack solved exactly by dynamic programming);
* **effective monthly price** = plan price + price of the packs.

Money is in the currency's minor unit (cents), as in the registry. The
preview assumes plans and packs share one currency.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from credits_core.policy.packs import PackOption, PackPurchase, cheapest_packs
from credits_core.registry import Registry

__all__ = [
    "PackOption",
    "PackPurchase",
    "PlanOption",
    "Quote",
    "ToolCost",
    "best_plan",
    "cheapest_packs",
    "credits_needed",
    "options_from_registry",
    "quote",
    "quote_all",
    "tool_allowed",
]


@dataclass(frozen=True)
class PlanOption:
    """A plan as the preview sees it (price in minor units)."""

    id: str
    label: str
    monthly_price: int
    monthly_included: int
    rank: int
    currency: str = "usd"


@dataclass(frozen=True)
class ToolCost:
    """A billable tool's cost and plan gate."""

    id: str
    label: str
    credits: int
    min_rank: int | None = None  # rank of the tool's minPlan; None = every plan


@dataclass(frozen=True)
class Quote:
    """One persona on one plan for one month."""

    persona: str
    plan_id: str
    plan_label: str
    credits_needed: int
    included: int
    shortfall: int
    unused_included: int
    packs: PackPurchase
    subscription: int
    effective_price: int
    blocked_tools: tuple[str, ...] = field(default_factory=tuple)

    @property
    def top_up_price(self) -> int:
        """What the top-up packs cost this month."""
        return self.packs.price

    @property
    def complete(self) -> bool:
        """True when the plan allows every tool the persona uses."""
        return not self.blocked_tools


# -- from the registry ------------------------------------------------------------------


def options_from_registry(registry: Registry) -> tuple[list[PlanOption], list[ToolCost], list[PackOption]]:
    """Plans, tool costs and packs of a registry as plain values."""
    ranks = {p.id: p.rank for p in registry.plans}
    plans = [
        PlanOption(p.id, p.label, p.monthly_price, p.monthly_included, p.rank, p.currency)
        for p in sorted(registry.plans, key=lambda p: p.rank)
    ]
    tools = [ToolCost(t.id, t.label, t.credits, ranks.get(t.min_plan) if t.min_plan else None) for t in registry.tools]
    packs = [PackOption(p.id, p.label, p.credits, p.price, p.currency) for p in registry.packs]
    return plans, tools, packs


def tool_allowed(tool: ToolCost, plan: PlanOption) -> bool:
    """The plan gate: a tool with a ``minPlan`` needs a plan of at least that rank."""
    return tool.min_rank is None or plan.rank >= tool.min_rank


# -- the computation -----------------------------------------------------------------------


def credits_needed(
    usage: Mapping[str, int], tools: Iterable[ToolCost], plan: PlanOption
) -> tuple[int, tuple[str, ...]]:
    """Credits a month of ``usage`` costs on ``plan``, and the tools it blocks.

    Tools missing from ``tools`` are ignored (an old persona, a removed tool).
    """
    by_id = {t.id: t for t in tools}
    total, blocked = 0, []
    for tool_id, uses in usage.items():
        tool = by_id.get(tool_id)
        uses = max(0, int(uses or 0))
        if tool is None or uses == 0:
            continue
        if not tool_allowed(tool, plan):
            blocked.append(tool_id)
            continue
        total += uses * max(0, int(tool.credits))
    return total, tuple(blocked)


def quote(
    persona: str, usage: Mapping[str, int], plan: PlanOption, tools: Sequence[ToolCost], packs: Sequence[PackOption]
) -> Quote:
    """What one month of ``usage`` costs on ``plan`` (see module docstring)."""
    needed, blocked = credits_needed(usage, tools, plan)
    shortfall = max(0, needed - plan.monthly_included)
    bought = cheapest_packs(shortfall, packs)
    return Quote(
        persona=persona,
        plan_id=plan.id,
        plan_label=plan.label,
        credits_needed=needed,
        included=plan.monthly_included,
        shortfall=shortfall,
        unused_included=max(0, plan.monthly_included - needed),
        packs=bought,
        subscription=plan.monthly_price,
        effective_price=plan.monthly_price + bought.price,
        blocked_tools=blocked,
    )


def quote_all(
    personas: Mapping[str, Mapping[str, int]],
    plans: Sequence[PlanOption],
    tools: Sequence[ToolCost],
    packs: Sequence[PackOption],
) -> list[Quote]:
    """Every persona × plan, personas in the given order, plans by rank."""
    ordered = sorted(plans, key=lambda p: p.rank)
    return [quote(name, usage, plan, tools, packs) for name, usage in personas.items() for plan in ordered]


def best_plan(quotes: Iterable[Quote]) -> dict[str, str]:
    """Per persona, the cheapest plan that allows every tool it uses."""
    out: dict[str, tuple[int, str]] = {}
    for q in quotes:
        if q.complete and (q.persona not in out or q.effective_price < out[q.persona][0]):
            out[q.persona] = (q.effective_price, q.plan_id)
    return {persona: plan_id for persona, (_, plan_id) in out.items()}
