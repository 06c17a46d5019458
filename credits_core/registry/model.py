"""The action registry: plans, billable tools and top-up packs of one tenant.

Validation collects every problem of a document at once (pydantic's field
errors plus the cross-field checks below) and raises one
:class:`~credits_core.errors.RegistryInvalid` listing them all.
Money amounts are integers in the currency's minor unit (cents).
"""

from __future__ import annotations

import json
from functools import cached_property
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from ..errors import RegistryInvalid, UnknownPack, UnknownPlan, UnknownTool

REQUIRED_PLANS = ("base", "intelligence", "professional")
NO_PLAN = "none"  # a signed-in user without an active subscription (README "Subscriptions")
_ID = r"^[a-z0-9][a-z0-9_\-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True, strict=False
    )


class Plan(_Strict):
    id: str = Field(pattern=_ID)
    label: str = Field(min_length=1, max_length=80)
    monthly_price: int = Field(ge=0)
    currency: str = Field(default="usd", pattern=r"^[a-z]{3}$")
    monthly_included: int = Field(ge=0, le=10_000_000)
    soft_cap_multiplier: float = Field(default=3, ge=1, le=100)
    rank: int = Field(ge=0)

    @property
    def soft_cap(self) -> int:
        """``softCapMultiplier × monthlyIncluded``, the cap of the included bucket."""
        return int(self.soft_cap_multiplier * self.monthly_included)


# No monthly grant and a soft cap of 0: included credits end with the subscription;
# purchased credits stay spendable. Rank below every registry plan, so gated tools say plan_required.
NO_SUBSCRIPTION = Plan.model_construct(
    id=NO_PLAN, label="No plan", monthly_price=0, currency="usd", monthly_included=0, soft_cap_multiplier=3, rank=-1
)


class Tool(_Strict):
    id: str = Field(pattern=_ID)
    label: str = Field(min_length=1, max_length=80)
    description: str = Field(default="", max_length=500)
    credits: int = Field(ge=0, le=1_000_000)
    min_plan: str | None = None
    category: str = Field(default="General", max_length=40)
    # Priced per unit (a hold reserves unitCredits × estimatedUnits, the settle charges the units used);
    # unset: the tool costs ``credits``, one unit.
    unit_credits: int | None = Field(default=None, ge=0, le=1_000_000)
    estimated_units: int | None = Field(default=None, ge=1, le=1_000_000)
    unit_label: str | None = Field(default=None, max_length=40)

    @property
    def unit_price(self) -> int:
        """Credits per unit: ``unitCredits`` of a per-unit tool, else ``credits`` (one unit)."""
        return self.credits if self.unit_credits is None else self.unit_credits

    @property
    def estimate_units(self) -> int:
        return self.estimated_units or 1

    @property
    def per_unit(self) -> bool:
        """Priced per unit: reserved (held) before it runs, charged for the units it used."""
        return self.unit_credits is not None

    @property
    def upfront_credits(self) -> int:
        """What is taken or reserved before a run: the fixed price, or the estimate of a per-unit tool."""
        return self.unit_price * self.estimate_units if self.per_unit else self.credits


class Pack(_Strict):
    id: str = Field(pattern=_ID)
    label: str = Field(min_length=1, max_length=80)
    credits: int = Field(gt=0, le=10_000_000)
    price: int = Field(gt=0)
    currency: str = Field(pattern=r"^[a-z]{3}$")


class Registry(_Strict):
    """One tenant's registry document (immutable; a change is a new version)."""

    tenant: str = Field(min_length=1, max_length=64)
    version: int = Field(ge=1)
    updated_at: str
    default_plan: str = "base"
    hold_ttl_seconds: int = Field(default=900, ge=1, le=7 * 24 * 3600)  # holds expire after this
    plans: tuple[Plan, ...]
    tools: tuple[Tool, ...]
    packs: tuple[Pack, ...]

    @cached_property
    def _plans(self) -> dict[str, Plan]:
        return {p.id: p for p in self.plans}

    @cached_property
    def _tools(self) -> dict[str, Tool]:
        return {t.id: t for t in self.tools}

    @cached_property
    def _packs(self) -> dict[str, Pack]:
        return {p.id: p for p in self.packs}

    def plan(self, plan_id: str) -> Plan:
        """The plan ``plan_id``; ``NO_PLAN`` is the built-in "no subscription" plan."""
        if plan_id == NO_PLAN:
            return NO_SUBSCRIPTION
        try:
            return self._plans[plan_id]
        except (KeyError, TypeError):
            raise UnknownPlan(
                f"unknown plan {plan_id!r}; plans are {', '.join(self._plans)}", plan=str(plan_id)
            ) from None

    def allows(self, plan_id: str, tool_id: str) -> bool:
        """True when ``plan_id`` may use ``tool_id`` (its ``minPlan`` does not rank above the plan)."""
        tool = self.tool(tool_id)
        return tool.min_plan is None or self.plan(tool.min_plan).rank <= self.plan(plan_id).rank

    def with_default_plan(self, plan_id: str) -> Registry:
        """This registry with another plan for users who have no plan row (e.g. ``NO_PLAN``)."""
        if plan_id == self.default_plan:
            return self
        self.plan(plan_id)
        return self.model_copy(update={"default_plan": plan_id})

    def tool(self, tool_id: str) -> Tool:
        try:
            return self._tools[tool_id]
        except (KeyError, TypeError):
            raise UnknownTool(f"unknown tool {str(tool_id)[:80]!r}", tool=str(tool_id)[:80]) from None

    def pack(self, pack_id: str) -> Pack:
        try:
            return self._packs[pack_id]
        except (KeyError, TypeError):
            raise UnknownPack(
                f"unknown pack {str(pack_id)[:80]!r}; packs are {', '.join(self._packs)}", pack=str(pack_id)[:80]
            ) from None

    def to_json(self) -> dict[str, Any]:
        """The document as served by ``GET /api/action-registry``."""
        return self.model_dump(by_alias=True, mode="json")

    def matrix(self) -> dict[str, Any]:
        """What ``GET /api/credits-matrix`` answers."""
        doc = self.to_json()
        return {
            "tenant": self.tenant,
            "version": self.version,
            "tools": doc["tools"],
            "plans": [dict(p, softCap=self.plan(p["id"]).soft_cap) for p in doc["plans"]],
            "packs": doc["packs"],
        }


def parse_registry(doc: Any) -> Registry:
    """Validate a registry document, raising one error listing every problem."""
    if not isinstance(doc, dict):
        raise RegistryInvalid("registry must be a JSON object", problems=["registry must be a JSON object"])
    problems: list[str] = []
    registry = None
    try:
        registry = Registry.model_validate(doc)
    except ValidationError as exc:
        problems += [_describe(err) for err in exc.errors(include_url=False)]
    problems += _cross_checks(doc)
    if problems:
        unique = list(dict.fromkeys(problems))
        raise RegistryInvalid(f"registry rejected: {len(unique)} problem(s): " + "; ".join(unique[:5]), problems=unique)
    assert registry is not None
    return registry


def load_default_registry(tenant: str = "cityzeen") -> Registry:
    """The registry shipped with the package, for ``tenant``."""
    text = resources.files(__package__).joinpath("default_registry.json").read_text("utf-8")
    doc = json.loads(text)
    doc["tenant"] = tenant
    return parse_registry(doc)


def _describe(err: dict[str, Any]) -> str:
    loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
    if err["type"] == "extra_forbidden":
        return f"{loc}: unknown key"
    if err["type"] == "missing":
        return f"{loc}: missing"
    return f"{loc}: {err['msg']}"


def _cross_checks(doc: dict[str, Any]) -> list[str]:
    """Checks pydantic cannot express per field: ids, references, ranks."""
    problems: list[str] = []
    sections = {name: doc.get(name) if isinstance(doc.get(name), list) else [] for name in ("plans", "tools", "packs")}
    ids: dict[str, list[str]] = {}
    for name, items in sections.items():
        seen: set[str] = set()
        ids[name] = []
        for i, item in enumerate(items):
            item_id = item.get("id") if isinstance(item, dict) else None
            if isinstance(item_id, str):
                if item_id in seen:
                    problems.append(f"{name}[{i}].id: duplicate id {item_id!r}")
                seen.add(item_id)
                ids[name].append(item_id)
    if NO_PLAN in ids["plans"]:
        problems.append(f"plans: the id {NO_PLAN!r} is reserved for users without a subscription")
    for plan_id in REQUIRED_PLANS:
        if plan_id not in ids["plans"]:
            problems.append(f"plans: plan {plan_id!r} is missing")
    ranks = [p.get("rank") for p in sections["plans"] if isinstance(p, dict)]
    if len(ranks) != len(set(map(str, ranks))):
        problems.append("plans: ranks must be distinct")
    for i, tool in enumerate(sections["tools"]):
        min_plan = tool.get("minPlan") if isinstance(tool, dict) else None
        if min_plan is not None and min_plan not in ids["plans"]:
            problems.append(f"tools[{i}].minPlan: unknown plan {min_plan!r}")
    for i, pack in enumerate(sections["packs"]):
        if isinstance(pack, dict) and ("price" not in pack or "currency" not in pack):
            problems.append(f"packs[{i}]: a pack needs a price and a currency")
    default_plan = doc.get("defaultPlan", "base")
    if default_plan not in ids["plans"]:
        problems.append(f"defaultPlan: unknown plan {default_plan!r}")
    return problems
