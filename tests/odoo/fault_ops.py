"""A reproducible sequence of service operations, run with or without injected faults."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from credits_core import CreditsService, FixedClock
from credits_core.errors import CreditsError, LedgerUnavailable
from credits_core.models import Row
from credits_core.registry import MemoryRegistryRepository
from credits_core.stores.base import LedgerStore
from tests.core.conftest import T0
from tests.odoo.support import KEY
from tests.standins.odoo import DEBUG_MARKER

FAULTS = ("refused", "timeout", "http500", "drop_after_commit")


def operations(seed: int, count: int) -> list[tuple[Any, ...]]:
    """Debits (some keys reused: replays and conflicts), refunds, top-ups, plan changes, month ticks, state."""
    rng = random.Random(seed)
    users = ["u0", "u1", "u2", "u3"]
    tools = ["ask_ai", "comps_report", "price_history", "data_export", "valuation_model"]
    keys: list[str] = []
    ops: list[tuple[Any, ...]] = []
    for i in range(count):
        pick = rng.random()
        user = rng.choice(users)
        if pick < 0.55 or not keys:
            key = f"k{i}" if rng.random() > 0.08 or not keys else rng.choice(keys)
            keys.append(key)
            ops.append(("debit", user, rng.choice(tools), key))
        elif pick < 0.65:
            ops.append(("refund", rng.choice(keys)))
        elif pick < 0.75:
            ops.append(("top_up", user, "pack_100", f"cs_{rng.randint(0, i)}"))
        elif pick < 0.82:
            ops.append(("change_plan", user, rng.choice(["base", "intelligence", "professional"]), f"r{i}"))
        elif pick < 0.85:
            ops.append(("tick",))
        else:
            ops.append(("state", user))
    return ops


def run(
    store: LedgerStore, ops: list[tuple[Any, ...]], *, inject: Callable[..., None] | None = None, hang_s: float = 0.1
) -> tuple[list[Any], list[str]]:
    """Answers of ``ops`` (``replayed`` left out); with ``inject``, 10 % of requests fail, of a random kind."""
    clock = FixedClock(T0)
    service = CreditsService(store, MemoryRegistryRepository(), enforce=True, clock=clock)
    rng = random.Random(11)
    answers: list[Any] = []
    leaks: list[str] = []
    for i, (name, *args) in enumerate(ops):
        if name == "tick":
            clock.tick(days=11)
            answers.append("tick")
            continue
        if inject is not None:
            inject(rng.choice(FAULTS), rate=0.1, seed=i, hang_s=hang_s)
        for _try in range(12):  # the client retries what the ledger could not do
            try:
                kwargs = {"request_id": args[-1]} if name == "change_plan" else {}
                result = getattr(service, name)(*(args[:-1] if kwargs else args), **kwargs)
                answers.append(_plain(result))
                break
            except LedgerUnavailable as exc:
                if DEBUG_MARKER in exc.message or "Traceback" in exc.message or KEY in exc.message:
                    leaks.append(exc.message)
            except CreditsError as exc:
                answers.append(exc.code)
                break
        else:
            answers.append("gave up")
    return answers, leaks


def ledger_of(rows: list[Row]) -> list[list[Any]]:
    """Rows as sorted JSON-able lists (every field)."""
    return sorted(
        [
            r.name,
            r.user_id,
            r.kind,
            r.delta,
            r.included_delta,
            r.created_at.isoformat(),
            json.dumps(r.meta, sort_keys=True),
        ]
        for r in rows
    )


def _plain(result: Any) -> Any:
    """The answer without what differs between a first answer and its replay (the ledger is compared apart)."""
    out = result.to_dict()
    out.pop("replayed", None)
    out.pop("ledgerTail", None)
    if "previousPlan" in out:
        out.pop("rows", None)  # a replayed plan change answers its numbers without the rows
    return json.loads(json.dumps(out))
