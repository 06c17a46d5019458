"""DEMO scenarios: put a DEMO account into a named credit state in one call, and links that rebuild it.

Everything is built through the service's public verbs (``change_plan``,
``adjust``, ``top_up``) on the DEMO session's own memory store: a scenario
never reads or writes the server ledger. A link carries only the DEMO state
— plan, buckets, month, enforcement and scenario id — as query parameters,
each validated (:func:`decode` lists every problem); :func:`rebuild` replays
the scenario on a fresh DEMO service, then sets the buckets to the link's.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from .clock import Clock, OffsetClock, PinnedClock, add_months, month_of
from .errors import BadRequest
from .service import CreditsService

# id → (menu label, what it shows)
SCENARIOS: dict[str, tuple[str, str]] = {
    "empty": ("Empty balance", "0 credits in both buckets"),
    "one_left": ("Exactly one quick answer left", "enough for one Ask AI question; enforcement on"),
    "soft_cap": ("At the soft cap", "included credits at the plan's soft cap: next month grants nothing"),
    "last_minute": ("Last minute of the month", "the demo clock stops at 23:59 on the month's last day"),
    "downgrade_trim": ("Just after a downgrade trim", "Professional at its cap, then down: the trim row shows"),
    "payment_fails": ("A payment that fails", "the next DEMO top-up is declined and credits nothing"),
    "webhook_twice": ("A webhook delivered twice", "one Checkout session delivered twice: credited once"),
}
CUSTOM = "custom"
LINK_VERSION = "1"
LINK_KEYS = ("v", "scenario", "plan", "included", "purchased", "month", "enforce")
MAX_PURCHASED = 10_000_000
_MONTH = re.compile(r"(20\d\d)-(0[1-9]|1[0-2])")
_INT = re.compile(r"\d{1,9}")


@dataclass(frozen=True)
class DemoState:
    """What a link carries (see module docstring)."""

    scenario: str
    plan: str
    included: int
    purchased: int
    month: str
    enforce: bool


@dataclass(frozen=True)
class Applied:
    """The outcome of putting a DEMO account into a scenario."""

    state: DemoState
    note: str
    fail_next_payment: bool = False


def encode(state: DemoState) -> dict[str, str]:
    """Query parameters of a link to ``state`` (in a stable order)."""
    return {
        "v": LINK_VERSION,
        "scenario": state.scenario,
        "plan": state.plan,
        "included": str(state.included),
        "purchased": str(state.purchased),
        "month": state.month,
        "enforce": "1" if state.enforce else "0",
    }


def decode(params: Mapping[str, Sequence[str]], service: CreditsService) -> DemoState:
    """The DEMO state of a link's query parameters (each key once), or ``BadRequest`` listing every problem."""
    problems = [f"unknown parameter {k!r}" for k in params if k not in LINK_KEYS]
    problems += [f"{k!r} is given more than once" for k, v in params.items() if len(v) > 1]
    one = {k: (v[0] if v else "") for k, v in params.items()}
    problems += [f"{k!r} is missing" for k in LINK_KEYS if k not in one]
    if problems:
        raise BadRequest("this link is not a valid DEMO state: " + "; ".join(problems), problems=problems)
    if one["v"] != LINK_VERSION:
        problems.append(f"link version {one['v'][:10]!r} is not supported")
    if one["scenario"] not in SCENARIOS and one["scenario"] != CUSTOM:
        problems.append(f"unknown scenario {one['scenario'][:40]!r}")
    plans = {p.id: p for p in service.registry.plans}
    plan = plans.get(one["plan"])
    if plan is None:
        problems.append(f"unknown plan {one['plan'][:40]!r} (plans: {', '.join(plans)})")
    numbers = {}
    for key, high in (("included", plan.soft_cap if plan else MAX_PURCHASED), ("purchased", MAX_PURCHASED)):
        raw = one[key]
        if not _INT.fullmatch(raw) or int(raw) > high:
            problems.append(f"{key} must be a whole number from 0 to {high:,}")
        else:
            numbers[key] = int(raw)
    if not _MONTH.fullmatch(one["month"]):
        problems.append("month must be YYYY-MM between 2000-01 and 2099-12")
    if one["enforce"] not in ("0", "1"):
        problems.append("enforce must be 0 or 1")
    if problems:
        raise BadRequest("this link is not a valid DEMO state: " + "; ".join(problems), problems=problems)
    return DemoState(
        one["scenario"], one["plan"], numbers["included"], numbers["purchased"], one["month"], one["enforce"] == "1"
    )


def current_state(service: CreditsService, user_id: str, scenario: str = CUSTOM) -> DemoState:
    """The DEMO state of ``user_id`` now, as a link would carry it."""
    s = service.state(user_id, tail=0)
    return DemoState(scenario, s.plan, s.balance.included, s.balance.purchased, s.month, service.enforce)


def apply(
    service: CreditsService,
    user_id: str,
    scenario: str,
    *,
    plan: str | None = None,
    month: str | None = None,
    enforce: bool | None = None,
) -> Applied:
    """Put a fresh DEMO account ``user_id`` into ``scenario`` (on ``plan``, in ``month``)."""
    if scenario not in SCENARIOS and scenario != CUSTOM:
        raise BadRequest(f"unknown scenario {scenario!r}", field="scenario")
    reg = service.registry
    plan = plan or reg.default_plan
    base = _base_clock(service.clock)
    month = month or month_of(base.now())
    if scenario == "last_minute":
        service.clock = PinnedClock(_month_start(month) + _month_length(month) - timedelta(minutes=1), base)
    else:
        service.clock = OffsetClock(base, _months_between(month_of(base.now()), month))
    if enforce is not None:
        service.enforce = enforce
    note, fails = SCENARIOS.get(scenario, ("Custom state", ""))[1], False
    if scenario == "downgrade_trim":
        top = max(reg.plans, key=lambda p: p.rank)
        lower = plan if reg.plan(plan).rank < top.rank else reg.default_plan
        service.change_plan(user_id, top.id, request_id=f"scn-up-{uuid.uuid4().hex[:8]}")
        _set_buckets(service, user_id, top.soft_cap, 0)
        change = service.change_plan(user_id, lower, request_id=f"scn-down-{uuid.uuid4().hex[:8]}")
        note = f"{top.label} at its {top.soft_cap:,} cap, then down to {reg.plan(lower).label}: trimmed {change.trimmed:,}."
    elif plan != service.state(user_id, tail=0).plan:
        service.change_plan(user_id, plan, request_id=f"scn-plan-{uuid.uuid4().hex[:8]}")
    if scenario == "empty":
        _set_buckets(service, user_id, 0, 0)
    elif scenario == "one_left":
        service.enforce = True if enforce is None else enforce
        _set_buckets(service, user_id, reg.tool("ask_ai").credits, 0)
    elif scenario == "soft_cap":
        _set_buckets(service, user_id, reg.plan(plan).soft_cap, 0)
    elif scenario == "payment_fails":
        fails = True
    elif scenario == "webhook_twice":
        session = f"cs_demo_twice_{uuid.uuid4().hex[:10]}"
        first = service.top_up(user_id, reg.packs[0].id, session, demo=True, via="webhook")
        again = service.top_up(user_id, reg.packs[0].id, session, demo=True, via="webhook")
        note = (
            f"Checkout session {session} delivered twice: credited +{first.row.delta:,} once; "
            f"the second delivery was a replay (replayed={str(again.replayed).lower()}), nothing more credited."
        )
    return Applied(current_state(service, user_id, scenario), note, fails)


def rebuild(service: CreditsService, user_id: str, state: DemoState) -> Applied:
    """Rebuild a link's ``state`` on a fresh DEMO service: the scenario, then the link's buckets."""
    applied = apply(service, user_id, state.scenario, plan=state.plan, month=state.month, enforce=state.enforce)
    _set_buckets(service, user_id, state.included, state.purchased)
    service.enforce = state.enforce
    return replace(applied, state=current_state(service, user_id, state.scenario))


def _set_buckets(service: CreditsService, user_id: str, included: int, purchased: int) -> None:
    """Move each bucket to its target with DEMO adjustment rows (nothing when already there)."""
    bal = service.state(user_id, tail=0).balance
    for bucket, now, target in (("included", bal.included, included), ("purchased", bal.purchased, purchased)):
        if target != now:
            key = f"scn-{bucket}-{uuid.uuid4().hex[:10]}"
            service.adjust(user_id, key, target - now, bucket, "DEMO scenario")


def _base_clock(clock: Clock) -> Clock:
    """The wall (or configured, ``CZ_CLOCK``) clock under a DEMO clock."""
    return getattr(clock, "base", None) or clock


def _month_start(month: str) -> datetime:
    year, mon = map(int, month.split("-"))
    return datetime(year, mon, 1, tzinfo=UTC)


def _month_length(month: str) -> timedelta:
    start = _month_start(month)
    return add_months(start, 1) - start


def _months_between(start: str, end: str) -> int:
    (y1, m1), (y2, m2) = map(int, start.split("-")), map(int, end.split("-"))
    return (y2 * 12 + m2) - (y1 * 12 + m1)
