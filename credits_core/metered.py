"""Charge, run, refund on failure: the one way to bill an action whose cost is fixed up front.

The Ask AI page and any Python caller of the service use it, so the rule
"an action that fails after it was charged gets its credits back, once" lives
here and nowhere else. A replayed key does not run the action again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from .models import DebitResult, RefundResult

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


def run_metered(service, user_id: str, tool_id: str, key: str, action: Callable[[], T], *, reason: str = "action failed") -> MeteredRun[T]:
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
