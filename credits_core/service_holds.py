"""The hold verbs of :class:`~credits_core.service.CreditsService`: reserve, settle, release (README "Holds").

Each is one store transaction built like every other mutation: pending grants
and releases of expired holds first (``_rolled``), then the pure decision of
``credits_core.policy.holds``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from . import keys
from .models import Account, HoldAnswer
from .policy.holds import decide_hold, decide_release, decide_settle
from .stores.base import Decision, Lookup

T = TypeVar("T")


class HoldVerbs:
    """Mixed into ``CreditsService`` (which provides ``store``, ``registry``, ``now``, ``_rolled``, …)."""

    def hold(self, user_id: str, tool_id: str, key: str, units: int | None = None) -> HoldAnswer:
        """Reserve ``tool_id``'s unit price × ``units`` (default: its estimate) under a permanent ``key``."""
        keys.check_user(user_id)
        key = keys.check_key(key, "holdKey")
        reg, now, enforce, path = self.registry, self.now(), self.enforce, self.top_up_path()

        def decide(acc: Account, lookup: Lookup) -> Decision[HoldAnswer]:
            return decide_hold(acc, reg, tool_id, key, units, now, lookup, enforce=enforce, top_up=path)

        return self.store.transact(user_id, self._rolled(decide, reg, now))

    def settle(self, user_id: str, key: str, units: int) -> HoldAnswer:
        """Charge the actual ``units`` of the hold ``key`` and free the rest (README "Holds")."""
        keys.check_user(user_id)
        key = keys.check_key(key, "holdKey")
        now = self.now()
        return self.store.transact(
            user_id, self._rolled(lambda acc, lookup: decide_settle(acc, key, units, now, lookup), now=now)
        )

    def release(self, user_id: str, key: str, reason: str = "released") -> HoldAnswer:
        """Free the hold ``key`` (the action failed or was not run); a repeat replays."""
        keys.check_user(user_id)
        key = keys.check_key(key, "holdKey")
        reason, now = str(reason or "released"), self.now()
        return self.store.transact(
            user_id, self._rolled(lambda acc, lookup: decide_release(acc, key, reason, now, lookup), now=now)
        )

    def run_held(
        self,
        user_id: str,
        tool_id: str,
        key: str,
        action: Callable[[], tuple[T, int]],
        *,
        reason: str = "action failed",
    ):
        """Hold the estimate, run ``action`` → (value, units), settle; release if it raises (``metered.run_held``)."""
        from .metered import run_held

        return run_held(self, user_id, tool_id, key, action, reason=reason)
