"""Rules of the two-phase verbs: hold, settle, release, and the usual reserve-run-settle flow.

Mixed into :class:`~tests.core.state_machine.machine.LedgerMachine` (see
``ledger_rules.py``). Units are drawn at random or at the edge of what the
account can cover (``Edge``), so 402s, shortfalls and holds competing for one
balance come up often; expiry comes from the machine's clock rules.
"""

from __future__ import annotations

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import rule

from credits_core.models import stamp
from tests.core.state_machine.model import EDGES, OPEN_TOOLS, TOOLS, USERS, Edge


class HoldRules:
    """Rules over holds (see module docstring)."""

    @rule(
        user=st.sampled_from(USERS),
        tool=st.one_of(st.sampled_from(OPEN_TOOLS), st.sampled_from(TOOLS)),  # half on tools every plan may use
        units=st.one_of(st.none(), st.integers(0, 8), st.integers(0, 60), EDGES),
        reuse=st.booleans(),
        pick=st.integers(0, 10_000),
        enforce=st.booleans(),
        stack=st.booleans(),
    )
    def hold(
        self, user: str, tool: str, units: int | Edge | None, reuse: bool, pick: int, enforce: bool, stack: bool = False
    ) -> None:
        known = list(self.seen.holds)
        key = known[pick % len(known)] if reuse and known else self.fresh("h")
        if stack and known:  # another hold beside the newest one: holds compete for one balance
            user = self.seen.holds[known[-1]][0]
        self.set_enforce(enforce)
        reg, acc = self.registries.current(), self.rolled(user)
        if isinstance(units, Edge):
            price = reg.tool(tool).unit_price if tool != "no_such_tool" else 0
            units = units.units(acc.balance.total - acc.held, price)
        out = self.both(lambda svc: svc.hold(user, tool, key, units))
        if key in self.seen.holds:
            first_user, first_tool, first = self.seen.holds[key]
            if first_user != user:
                assert (out.code, out.error.details) == ("idempotency_conflict", {"field": "userId"})
            elif first_tool != tool:
                assert (out.code, out.error.details) == ("idempotency_conflict", {"field": "tool"})
            elif units is not None and units != first.row.meta["units"]:
                assert (out.code, out.error.details) == ("idempotency_conflict", {"field": "units"})
            else:
                assert out.result.replayed and out.result.to_dict() == {**first.to_dict(), "replayed": True}
            return
        if out.code in ("unknown_tool", "plan_required"):
            return
        spec = reg.tool(tool)
        estimate = spec.unit_price * (spec.estimate_units if units is None else units)
        available = acc.balance.total - acc.held
        if enforce and estimate > available:
            assert out.code == "insufficient_credits" and out.error.details["required"] == estimate
            return
        assert out.result.row.meta["held"] == min(estimate, max(0, available))
        self.seen.holds[key] = (user, tool, out.result)
        event("hold: reserved" + (" beside another" if acc.held else ""))

    @rule(pick=st.integers(0, 10_000), units=st.one_of(st.integers(0, 60), EDGES), other=st.sampled_from((None, *USERS)))
    def settle(self, pick: int, units: int | Edge, other: str | None) -> None:
        if not self.seen.holds:
            return
        key = list(self.seen.holds)[pick % len(self.seen.holds)]
        owner, _tool, first = self.seen.holds[key]
        user = other or owner
        acc = self.rolled(user)
        if isinstance(units, Edge):  # at the edge of this hold plus what no other hold reserves
            units = units.units(acc.balance.total - acc.held + first.row.meta["held"], first.row.meta["unitPrice"])
        out = self.both(lambda svc: svc.settle(user, key, units))
        if user != owner:
            assert out.code == "idempotency_conflict" and out.error.details == {"field": "userId"}
            return
        ended = self.seen.ends.get(key)
        if ended is not None and ended.row.kind == "debit":
            if ended.row.meta["units"] == units:
                assert out.result.to_dict() == {**ended.to_dict(), "replayed": True}
            else:
                assert out.code == "idempotency_conflict" and out.error.details == {"field": "units"}
            return
        if first.row.meta["expiresAt"] <= stamp(self.clock.now()):
            assert out.code == "hold_expired"
            event("settle: expired")
            return
        if ended is not None:
            assert out.code == "hold_closed"
            return
        reserved = first.row.meta["held"]
        room = acc.balance.total - (acc.held - reserved)
        cost = first.row.meta["unitPrice"] * units
        assert -out.result.row.delta == min(cost, max(0, room))
        assert out.result.row.meta["released"] == max(0, reserved + out.result.row.delta)
        self.seen.ends[key] = out.result
        event("settle: charged" + (" above the hold" if cost > reserved else ""))

    @rule(pick=st.integers(0, 10_000))
    def release(self, pick: int) -> None:
        if not self.seen.holds:
            return
        key = list(self.seen.holds)[pick % len(self.seen.holds)]
        owner, _tool, first = self.seen.holds[key]
        out = self.both(lambda svc: svc.release(owner, key))
        ended = self.seen.ends.get(key)
        if ended is not None and ended.row.kind == "debit":
            assert out.code == "hold_closed"
            return
        assert out.result.row.kind == "release"
        if ended is not None:
            assert out.result.to_dict() == {**ended.to_dict(), "replayed": True}
            return
        reserved = first.row.meta["held"]
        expired = reserved > 0 and first.row.meta["expiresAt"] <= stamp(self.clock.now())
        meta = out.result.row.meta
        assert (meta["reason"], meta["reserved"], meta["held"]) == ("expired" if expired else "released", reserved, -reserved)
        self.seen.ends[key] = out.result
        event("release: " + meta["reason"])

    @rule(
        user=st.sampled_from(USERS),
        tool=st.sampled_from(OPEN_TOOLS),
        units=st.integers(0, 8),
        used=st.integers(0, 12),
        fail=st.booleans(),
        enforce=st.booleans(),
    )
    def hold_and_end(self, user: str, tool: str, units: int, used: int, fail: bool, enforce: bool) -> None:
        """A client's usual flow within the TTL: reserve, run, then settle the units used or release on failure."""
        taken = len(self.seen.holds)
        self.hold(user, tool, units, reuse=False, pick=0, enforce=enforce)
        if len(self.seen.holds) == taken:  # refused: nothing to end
            return
        if fail:
            self.release(taken)  # the new hold is the last key
        else:
            self.settle(taken, used, None)
