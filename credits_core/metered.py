"""Charge, run, refund on failure (fixed price); hold, run, settle or release (cost known after the run).

The Ask AI page and any Python caller of the service use it, so the rule
"an action that fails after it was charged gets its credits back, once" lives
here and nowhere else. A replayed key does not run the action again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from . import keys
from .models import DebitResult, HoldAnswer, RefundResult

T = TypeVar("T")
log = logging.getLogger("credits_core.metered")


@dataclass(frozen=True)
class MeteredRun(Generic[T]):
    """What happened: the debit, the action's value (or its failure and the refund)."""

    debit: DebitResult
    value: T | None = None
    failure: BaseException | None = None
    refund: RefundResult | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


def run_metered(
    service, user_id: str, tool_id: str, key: str, action: Callable[[], T], *, reason: str = "action failed"
) -> MeteredRun[T]:
    """Debit ``tool_id`` under ``key``, run ``action`` once, refund if it raises.

    Errors of the debit itself (``insufficient_credits``, ``plan_required``, …)
    propagate and nothing runs. A replay (same key) returns the first debit and
    does not run ``action`` again; its value is ``None``.
    """
    debit = service.debit(user_id, tool_id, key)
    if debit.replayed:
        return MeteredRun(debit)
    try:
        value = action()
    except Exception as exc:  # the action's failure is the caller's to show; the refund is ours
        log.info("metered action %s failed (%s): refunding", key, type(exc).__name__)
        refund = service.refund(key, reason)
        return MeteredRun(debit, failure=exc, refund=refund)
    return MeteredRun(debit, value=value)


@dataclass(frozen=True)
class HeldRun(Generic[T]):
    """A two-phase run: the hold, then its settle (the action's value) or its release (its failure)."""

    hold: HoldAnswer
    value: T | None = None
    settle: HoldAnswer | None = None
    release: HoldAnswer | None = None
    failure: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def reserved(self) -> int:
        return int(self.hold.row.meta["held"])

    @property
    def charged(self) -> int:
        return -self.settle.row.delta if self.settle is not None else 0

    @property
    def released(self) -> int:
        if self.settle is not None:
            return int(self.settle.row.meta["released"])
        return self.reserved if self.release is not None else 0


def run_held(
    service,
    user_id: str,
    tool_id: str,
    key: str,
    action: Callable[[], tuple[T, int]],
    *,
    units: int | None = None,
    reason: str = "action failed",
) -> HeldRun[T]:
    """Hold the estimate under ``key``, run ``action`` → ``(value, units used)``, settle those units.

    If the action raises, the hold is released (nothing charged). Errors of the
    hold itself (402, 403, …) propagate and nothing runs. A replayed hold does
    not run the action again: it answers the settle or release it already had.
    """
    hold = service.hold(user_id, tool_id, key, units)
    if hold.replayed:
        ended = service.store.find(keys.settle_name(key)) or service.store.find(keys.release_name(key))
        if ended is not None and ended.kind == "debit":
            return HeldRun(hold, settle=HoldAnswer(ended, replayed=True))
        if ended is not None:
            return HeldRun(hold, release=HoldAnswer(ended, replayed=True))
    try:
        value, used = action()
    except Exception as exc:  # the action's failure is the caller's to show; freeing the hold is ours
        log.info("held action %s failed (%s): releasing", key, type(exc).__name__)
        return HeldRun(hold, failure=exc, release=service.release(user_id, key, reason))
    return HeldRun(hold, value=value, settle=service.settle(user_id, key, used))
