"""Deterministic synthetic history for demos, the Ops page and benchmarks.

Every row is written through the real service and rules (a fixed clock
walks through the months), so the seeded ledger is one the product could
have produced: grants, debits, upgrades, trims, top-ups and refunds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from .clock import FixedClock, add_months
from .errors import CreditsError
from .service import CreditsService

# Monthly uses of each tool by persona (the Pricing page starts from these too).
PERSONAS: dict[str, dict[str, int]] = {
    "light user": {"ask_ai": 25, "comps_report": 4, "price_history": 10, "watchlist_alert": 20},
    "analyst": {
        "ask_ai": 150,
        "ask_ai_deep": 12,
        "comps_report": 20,
        "valuation_model": 14,
        "document_extract": 8,
        "price_history": 30,
        "data_export": 6,
    },
    "power trader": {
        "ask_ai": 400,
        "ask_ai_deep": 40,
        "comps_report": 60,
        "valuation_model": 40,
        "portfolio_scan": 12,
        "document_extract": 25,
        "price_history": 80,
        "data_export": 20,
    },
}
PERSONA_PLAN = {"light user": "base", "analyst": "intelligence", "power trader": "professional"}


@dataclass(frozen=True)
class SeedReport:
    users: int
    months: int
    operations: int
    refused: int


def seed_demo(
    service: CreditsService,
    *,
    users: int = 40,
    months: int = 4,
    seed: int = 7,
    end: datetime | None = None,
    scale: float = 1.0,
) -> SeedReport:
    """Write ``months`` of history for ``users`` synthetic users ending at ``end``.

    ``scale`` multiplies every persona's usage (benchmarks use it to reach
    a target row count). Deterministic for a given ``seed``.
    """
    rng = random.Random(seed)
    real_clock = service.clock
    end = end or real_clock.now()
    start = add_months(end, -(months - 1)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    clock = FixedClock(start)
    service.clock = clock
    ops = refused = 0
    try:
        for n in range(users):
            persona = rng.choices(list(PERSONAS), weights=(5, 3, 2))[0]
            user = f"user_{n + 1:04d}"
            ops_u, refused_u = _seed_user(service, clock, rng, user, persona, start, end, scale)
            ops += ops_u
            refused += refused_u
    finally:
        service.clock = real_clock
    return SeedReport(users, months, ops, refused)


def _seed_user(service, clock, rng, user, persona, start, end, scale) -> tuple[int, int]:
    events: list[tuple[datetime, str]] = []
    span = (end - start).total_seconds()
    per_month_factor = max(span / (30 * 86400), 0.03)
    for tool, monthly in PERSONAS[persona].items():
        count = int(monthly * per_month_factor * scale * rng.uniform(0.6, 1.3))
        events += [(start + timedelta(seconds=rng.uniform(0, span)), tool) for _ in range(count)]
    events.sort()
    ops = refused = 0
    clock.at = start + timedelta(minutes=rng.uniform(0, 600))
    plan = PERSONA_PLAN[persona]
    if plan != service.registry.default_plan:  # the subscription that starts the user's history
        service.change_plan(user, plan, request_id=f"seed-{user}-start")
        ops += 1
    for i, (at, tool) in enumerate(events):
        clock.at = at
        key = f"seed-{user}-{i}"
        try:
            service.debit(user, tool, key)
            ops += 1
            if rng.random() < 0.01:
                service.refund(key, "simulated provider failure")
                ops += 1
        except CreditsError as exc:
            refused += 1
            if exc.code == "insufficient_credits" and persona != "light user" and rng.random() < 0.7:
                pack = "pack_500" if persona == "analyst" else "pack_2000"
                service.top_up(user, pack, f"cs_seed_{user}_{i}")
                ops += 1
            elif exc.code == "plan_required" and rng.random() < 0.05:
                service.change_plan(user, "intelligence", request_id=f"seed-{user}-up-{i}")
                ops += 1
    clock.at = end
    service.state(user, tail=0)
    return ops, refused
