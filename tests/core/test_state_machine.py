"""Stateful property test: random operations through the service, on MemoryStore and SqliteStore in lockstep.

Every step runs on both stores (same clock, same registry) and must give the
same answer on both; after every step the invariants of SPEC §3–§4 are checked
on both ledgers from their rows alone.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from credits_core import CreditsService, FixedClock, MemoryStore, SqliteStore
from credits_core.clock import add_months, month_of
from credits_core.errors import CreditsError
from credits_core.models import Account, Balance, Row
from credits_core.policy import rollover_rows
from credits_core.policy.grants import current_plan
from credits_core.policy.holds import expiry_rows
from credits_core.registry import MemoryRegistryRepository, load_default_registry
from tests.core.conftest import T0
from tests.core.support import assert_consistent

USERS = ("alice", "bob", "carol")
DEFAULT = load_default_registry()
TOOLS = (*(t.id for t in DEFAULT.tools), "no_such_tool")
PLANS = tuple(p.id for p in DEFAULT.plans)
PACKS = tuple(p.id for p in DEFAULT.packs)
MONTHLY = {p.id: p.monthly_included for p in DEFAULT.plans}
CAP = {p.id: p.soft_cap for p in DEFAULT.plans}


class Outcome:
    """What one call answered on one store: a result or an error code."""

    def __init__(self, result: Any = None, error: CreditsError | None = None) -> None:
        self.result, self.error = result, error

    @property
    def code(self) -> str | None:
        return self.error.code if self.error else None

    def key(self) -> Any:
        return ("error", self.error.code, self.error.details) if self.error else ("ok", self.result)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="cz-state-"))
        self.clock = FixedClock(T0)
        self.registries = MemoryRegistryRepository()
        self.sqlite = SqliteStore(self.tmp / "ledger.sqlite3")
        self.services = [
            CreditsService(MemoryStore(), self.registries, clock=self.clock),
            CreditsService(self.sqlite, self.registries, clock=self.clock),
        ]
        self.debits: dict[str, tuple[str, str, Any]] = {}  # key → (user, tool, first answer)
        self.keys: list[str] = []  # every key ever sent (also refused ones)
        self.refunds: dict[str, Any] = {}
        self.sessions: dict[str, tuple[str, Any]] = {}
        self.adjusts: dict[str, tuple[str, Any]] = {}
        self.holds: dict[str, tuple[str, str, Any]] = {}  # key → (user, tool, first answer)
        self.ends: dict[str, Any] = {}  # hold key → first settle / release answer
        self.counter = 0

    def teardown(self) -> None:
        self.sqlite.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers -----------------------------------------------------------------
    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    @property
    def memory(self) -> CreditsService:
        return self.services[0]

    def rolled(self, user: str) -> Account:
        """The user's account with pending grants applied (what an operation starts from)."""
        acc = self.memory.store.account(user)
        acc = acc.with_rows(rollover_rows(acc, self.registries.current(), self.clock.now()))
        return acc.with_rows(expiry_rows(acc, self.clock.now()))

    def both(self, call) -> Outcome:
        """Run ``call(service)`` on every store; same answer everywhere; an error writes nothing."""
        outcomes = []
        for svc in self.services:
            before = svc.store.rows()
            try:
                outcomes.append(Outcome(result=call(svc)))
            except CreditsError as exc:
                assert svc.store.rows() == before, f"{exc.code} wrote rows"
                outcomes.append(Outcome(error=exc))
        first = outcomes[0]
        for other in outcomes[1:]:
            assert other.key() == first.key(), f"stores disagree: {first.key()} vs {other.key()}"
        return first

    # -- rules -------------------------------------------------------------------
    @rule(
        user=st.sampled_from(USERS),
        tool=st.sampled_from(TOOLS),
        reuse=st.booleans(),
        pick=st.integers(0, 10_000),
        enforce=st.booleans(),
    )
    def debit(self, user: str, tool: str, reuse: bool, pick: int, enforce: bool) -> None:
        key = self.keys[pick % len(self.keys)] if reuse and self.keys else self.fresh("k")
        if key not in self.keys:
            self.keys.append(key)
        for svc in self.services:
            svc.enforce = enforce
        reg, acc = self.registries.current(), self.rolled(user)
        out = self.both(lambda svc: svc.debit(user, tool, key))
        if key in self.debits:
            first_user, first_tool, first = self.debits[key]
            if first_user != user:
                assert (out.code, out.error.details) == ("idempotency_conflict", {"field": "userId"})
            elif first_tool != tool:
                assert (out.code, out.error.details) == ("idempotency_conflict", {"field": "tool"})
            else:
                assert out.result.replayed and out.result.row == first.row and out.result.balance == first.balance
            return
        if tool == "no_such_tool":
            assert out.code == "unknown_tool"
            return
        spec = reg.tool(tool)
        plan = current_plan(acc, reg)
        if spec.min_plan and reg.plan(spec.min_plan).rank > plan.rank:
            assert out.code == "plan_required"
            return
        bal = acc.balance
        if spec.credits <= bal.total - acc.held:
            inc = min(spec.credits, bal.included)
            assert out.result.balance == Balance(bal.included - inc, bal.purchased - spec.credits + inc)
            assert (out.result.row.delta, out.result.row.included_delta) == (-spec.credits, -inc)
        elif enforce:
            assert out.code == "insufficient_credits"
            assert out.error.details["required"] == spec.credits
            assert out.error.details["balance"] == bal.to_dict()
            return
        else:
            assert out.result.row.delta == 0 and out.result.row.meta["shortfall"] == spec.credits
            assert out.result.balance == bal and out.result.warning
        assert not out.result.replayed
        assert self.memory.store.account(user).balance == out.result.balance
        self.debits[key] = (user, tool, out.result)

    @rule(pick=st.integers(0, 10_000), unknown=st.booleans(), reason=st.text(max_size=5))
    def refund(self, pick: int, unknown: bool, reason: str) -> None:
        key = self.fresh("never") if unknown or not self.keys else self.keys[pick % len(self.keys)]
        if key not in self.debits:
            out = self.both(lambda svc: svc.refund(key, reason))
            assert out.code == "not_found"
            return
        user, _tool, first = self.debits[key]
        before = self.rolled(user).balance
        out = self.both(lambda svc: svc.refund(key, reason))
        if key in self.refunds:
            assert out.result.replayed and out.result.row == self.refunds[key].row
            assert out.result.balance == self.refunds[key].balance
            return
        debit_row = first.row
        assert (out.result.row.delta, out.result.row.included_delta) == (-debit_row.delta, -debit_row.included_delta)
        assert out.result.balance == Balance(
            before.included - debit_row.included_delta, before.purchased - debit_row.purchased_delta
        )
        self.refunds[key] = out.result

    @rule(user=st.sampled_from(USERS), plan=st.sampled_from(PLANS), dry_run=st.booleans(), then_real=st.booleans())
    def change_plan(self, user: str, plan: str, dry_run: bool, then_real: bool) -> None:
        acc = self.rolled(user)
        before = [svc.store.rows() for svc in self.services]
        preview = None
        request_id = self.fresh("req")
        if dry_run:
            preview = self.both(lambda svc: svc.change_plan(user, plan, dry_run=True, request_id=request_id)).result
            assert [svc.store.rows() for svc in self.services] == before, "a dry run wrote rows"
            if not then_real:
                return
        change = self.both(lambda svc: svc.change_plan(user, plan, request_id=request_id)).result
        old = current_plan(acc, self.registries.current())
        assert change.previous_plan == old.id and change.plan == plan
        if plan != old.id:
            assert change.trimmed == max(0, acc.balance.included - CAP[plan])
        assert change.balance.purchased == acc.balance.purchased  # never trimmed
        assert change.balance == self.memory.store.account(user).balance
        assert self.memory.state(user, tail=0).plan == plan
        if preview is not None:
            got = (change.granted, change.trimmed, change.balance, [(r.kind, r.delta) for r in change.rows])
            want = (preview.granted, preview.trimmed, preview.balance, [(r.kind, r.delta) for r in preview.rows])
            assert got == want

    @rule(user=st.sampled_from(USERS), pack=st.sampled_from(PACKS), reuse=st.booleans(), pick=st.integers(0, 10_000))
    def top_up(self, user: str, pack: str, reuse: bool, pick: int) -> None:
        refs = list(self.sessions)
        ref = refs[pick % len(refs)] if reuse and refs else self.fresh("cs")
        before = self.rolled(user).balance
        out = self.both(lambda svc: svc.top_up(user, pack, ref))
        if ref in self.sessions:
            owner, first = self.sessions[ref]
            if owner != user:
                assert out.code == "idempotency_conflict"
            else:
                assert out.result.replayed and out.result.row == first.row
            return
        credits = self.registries.current().pack(pack).credits
        assert out.result.balance == Balance(before.included, before.purchased + credits)
        self.sessions[ref] = (user, out.result)

    @rule(
        user=st.sampled_from(USERS),
        delta=st.integers(-400, 400),
        bucket=st.sampled_from(("included", "purchased")),
        reuse=st.booleans(),
    )
    def adjust(self, user: str, delta: int, bucket: str, reuse: bool) -> None:
        mine = [k for k, (u, _) in self.adjusts.items() if u == user]
        key = mine[0] if reuse and mine else self.fresh("adj")
        before = self.rolled(user).balance
        out = self.both(lambda svc: svc.adjust(user, key, delta, bucket, "state machine"))
        if key in self.adjusts:
            assert out.result.replayed and out.result.row == self.adjusts[key][1].row
            return
        after = (
            Balance(before.included + delta, before.purchased)
            if bucket == "included"
            else Balance(before.included, before.purchased + delta)
        )
        if after.included < 0 or after.purchased < 0:
            assert out.code == "bad_request"
            return
        assert out.result.balance == after
        self.adjusts[key] = (user, out.result)

    @rule(tool=st.sampled_from(TOOLS[:-1]), credits=st.integers(0, 40))
    def reprice(self, tool: str, credits: int) -> None:
        doc = self.registries.current().to_json()
        for item in doc["tools"]:
            if item["id"] == tool:
                item["credits"] = credits
        self.registries.save(doc)

    @rule(
        user=st.sampled_from(USERS),
        tool=st.sampled_from(TOOLS),
        units=st.one_of(st.none(), st.integers(0, 60)),
        reuse=st.booleans(),
        pick=st.integers(0, 10_000),
        enforce=st.booleans(),
    )
    def hold(self, user: str, tool: str, units: int | None, reuse: bool, pick: int, enforce: bool) -> None:
        known = list(self.holds)
        key = known[pick % len(known)] if reuse and known else self.fresh("h")
        for svc in self.services:
            svc.enforce = enforce
        reg, acc = self.registries.current(), self.rolled(user)
        out = self.both(lambda svc: svc.hold(user, tool, key, units))
        if key in self.holds:
            first_user, first_tool, first = self.holds[key]
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
        self.holds[key] = (user, tool, out.result)
        event("hold: reserved")

    @rule(pick=st.integers(0, 10_000), units=st.integers(0, 60), other=st.sampled_from((None, *USERS)))
    def settle(self, pick: int, units: int, other: str | None) -> None:
        if not self.holds:
            return
        key = list(self.holds)[pick % len(self.holds)]
        owner, _tool, first = self.holds[key]
        user = other or owner
        acc = self.rolled(user)
        out = self.both(lambda svc: svc.settle(user, key, units))
        if user != owner:
            assert out.code == "idempotency_conflict" and out.error.details == {"field": "userId"}
            return
        ended = self.ends.get(key)
        if ended is not None and ended.row.kind == "debit":
            if ended.row.meta["units"] == units:
                assert out.result.to_dict() == {**ended.to_dict(), "replayed": True}
            else:
                assert out.code == "idempotency_conflict" and out.error.details == {"field": "units"}
            return
        if first.row.meta["expiresAt"] <= out_stamp(self.clock.now()):
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
        self.ends[key] = out.result
        event("settle: charged" + (" above the hold" if cost > reserved else ""))

    @rule(pick=st.integers(0, 10_000))
    def release(self, pick: int) -> None:
        if not self.holds:
            return
        key = list(self.holds)[pick % len(self.holds)]
        owner = self.holds[key][0]
        out = self.both(lambda svc: svc.release(owner, key))
        ended = self.ends.get(key)
        if ended is not None and ended.row.kind == "debit":
            assert out.code == "hold_closed"
            return
        assert out.result.row.kind == "release"
        if ended is not None:
            assert out.result.to_dict() == {**ended.to_dict(), "replayed": True}
        self.ends.setdefault(key, out.result)

    @rule(minutes=st.integers(1, 20))
    def advance_minutes(self, minutes: int) -> None:
        self.clock.tick(minutes=minutes)

    @rule(user=st.sampled_from(USERS))
    def state(self, user: str) -> None:
        expected = self.rolled(user)
        out = self.both(lambda svc: svc.state(user, tail=5))
        assert out.result.balance == expected.balance
        assert out.result.available == max(0, expected.balance.total - expected.held)
        assert out.result.month == month_of(self.clock.now())

    @rule(days=st.integers(0, 20), hours=st.integers(0, 23))
    def advance_days(self, days: int, hours: int) -> None:
        self.clock.tick(days=days, hours=hours)

    @rule(months=st.integers(1, 4), touch=st.sampled_from((None, *USERS)))
    def advance_months(self, months: int, touch: str | None) -> None:
        self.clock.at = add_months(self.clock.now(), months)
        if touch:
            state = self.both(lambda svc: svc.state(touch, tail=0)).result
            assert state.balance.included <= state.soft_cap  # right after the rollover

    # -- invariants --------------------------------------------------------------
    @invariant()
    def ledgers_agree_and_hold_the_rules(self) -> None:
        reference = self.memory.store.rows()
        for svc in self.services:
            rows = svc.store.rows()
            assert rows == reference, "MemoryStore and SqliteStore ledgers differ"
            names = [r.name for r in rows]
            assert len(names) == len(set(names)), "a row name was stored twice"
            by_user: dict[str, list[Row]] = defaultdict(list)
            for row in reversed(rows):
                by_user[row.user_id].append(row)
            for user, user_rows in by_user.items():
                acc = assert_consistent(svc.store, user)
                assert acc == Account(user).with_rows(user_rows)
                check_user_history(user, user_rows)
            assert sorted(a.user_id for a in svc.store.accounts()) == sorted(by_user)


def check_user_history(user: str, rows: list[Row]) -> None:
    """Rules that must hold over one user's whole history, checked from the rows alone."""
    acc = Account(user)
    after_rollover = False
    granted: dict[str, int] = defaultdict(int)
    held: dict[str, set[str]] = defaultdict(set)
    debits: dict[str, Row] = {}
    for row in rows:
        plan = acc.plan or "base"
        if after_rollover and not (row.kind == "trim" and row.meta.get("reason") == "soft cap at rollover"):
            assert acc.balance.included <= CAP[plan], f"included above the soft cap after rollover: {acc}"
            after_rollover = False
        if row.purchased_delta < 0:
            assert row.kind in ("debit", "adjust"), f"{row.kind} reduced purchased credits"
        if row.kind == "trim":
            assert row.purchased_delta == 0 and row.delta < 0
        if row.kind == "grant":
            after_rollover = True
            held[row.meta["month"]].add(plan)
            granted[row.meta["month"]] += row.delta
            assert 0 <= row.delta <= MONTHLY[plan]
        if row.kind == "upgrade":
            granted[row.meta["month"]] += row.delta
        if row.kind == "plan":
            held[row.meta["month"]].add(row.meta["plan"])
        if row.kind == "debit":
            debits[row.name.removeprefix("CZ_SMCR|debit|")] = row
            assert row.delta <= 0
            assert row.delta == -row.meta["cost"] or (row.delta == 0 and row.meta.get("shortfall") == row.meta["cost"])
        if row.kind == "refund":
            debit = debits[row.name.removeprefix("CZ_SMCR|refund|")]
            assert (row.delta, row.included_delta) == (-debit.delta, -debit.included_delta)
        held_before = acc.held
        acc = acc.with_rows([row])
        assert acc.balance.included >= 0 and acc.balance.purchased >= 0, "a balance went negative"
        if row.kind in ("hold", "debit") and (row.delta or acc.held > held_before):
            assert acc.balance.total - acc.held >= 0, f"{row.name} took available below zero: {acc}"
    if after_rollover:
        assert acc.balance.included <= CAP[acc.plan or "base"]
    for month, total in granted.items():
        assert total <= max(MONTHLY[p] for p in held[month]), f"{month}: granted {total} > highest plan held"


def out_stamp(at: Any) -> str:
    from credits_core.models import stamp

    return stamp(at)


LedgerMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLedgerStateMachine = LedgerMachine.TestCase
