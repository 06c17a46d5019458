"""The hold verbs of :class:`~credits_core.service.CreditsService`: reserve, settle, release (README "Holds").

Each is one store transaction built like every other mutation: pending grants
and releases of expired holds first (``_rolled``), then the pure decision of
``credits_core.policy.holds``. Each verb has an ``…_async`` twin for the event
loop (the HTTP routes): the same decision, committed by the store's own async
group commit (SQLite) or in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from . import keys
from .models import Account, HoldAnswer
from .policy.holds import decide_hold, decide_release, decide_settle, hold_request, settle_request
from .stores.base import Decision, Lookup

T = TypeVar("T")
Decide = Callable[[Account, Lookup], Decision[HoldAnswer]]


class HoldVerbs:
    """Mixed into ``CreditsService`` (which provides ``store``, ``registry``, ``now``, ``_rolled``, …)."""

    def hold(self, user_id: str, tool_id: str, key: str, units: int | None = None) -> HoldAnswer:
        """Reserve ``tool_id``'s unit price × ``units`` (default: its estimate) under a permanent ``key``."""
        return self.store.transact(user_id, self._hold_decision(user_id, tool_id, key, units))

    async def hold_async(self, user_id: str, tool_id: str, key: str, units: int | None = None) -> HoldAnswer:
        """``hold`` for the event loop."""
        return await self._transact_async(user_id, self._hold_decision(user_id, tool_id, key, units))

    def settle(self, user_id: str, key: str, units: int) -> HoldAnswer:
        """Charge the actual ``units`` of the hold ``key`` and free the rest (README "Holds")."""
        return self.store.transact(user_id, self._settle_decision(user_id, key, units))

    async def settle_async(self, user_id: str, key: str, units: int) -> HoldAnswer:
        """``settle`` for the event loop."""
        return await self._transact_async(user_id, self._settle_decision(user_id, key, units))

    def release(self, user_id: str, key: str, reason: str = "released") -> HoldAnswer:
        """Free the hold ``key`` (the action failed or was not run); a repeat replays."""
        return self.store.transact(user_id, self._release_decision(user_id, key, reason))

    async def release_async(self, user_id: str, key: str, reason: str = "released") -> HoldAnswer:
        """``release`` for the event loop."""
        return await self._transact_async(user_id, self._release_decision(user_id, key, reason))

    def _hold_decision(self, user_id: str, tool_id: str, key: str, units: int | None) -> Decide:
        keys.check_user(user_id)
        key = keys.check_key(key, "holdKey")
        reg, now, enforce = self.registry, self.now(), self.enforce
        path = self._top_up_path_of(reg)
        req = hold_request(reg, tool_id, key, units, now)

        def decide(acc: Account, lookup: Lookup) -> Decision[HoldAnswer]:
            return decide_hold(acc, reg, req, lookup, enforce=enforce, top_up=path)

        return self._rolled(decide, reg, now)

    def _settle_decision(self, user_id: str, key: str, units: int) -> Decide:
        keys.check_user(user_id)
        req = settle_request(keys.check_key(key, "holdKey"), units, self.now())
        return self._rolled(lambda acc, lookup: decide_settle(acc, req, lookup), now=req.now)

    def _release_decision(self, user_id: str, key: str, reason: str) -> Decide:
        keys.check_user(user_id)
        key = keys.check_key(key, "holdKey")
        reason, now = str(reason or "released"), self.now()
        return self._rolled(lambda acc, lookup: decide_release(acc, key, reason, now, lookup), now=now)

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
