"""The reference model of the state machine: SPEC §3–§4 and the hold rules, checked from the rows alone.

Nothing here reads a store's derived account: every figure is recomputed from
a ledger's rows (oldest first) and the injected clock's ``now``; the machine
then compares each store's own account with what these functions derive.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from credits_core import keys
from credits_core.errors import CreditsError
from credits_core.models import ROW_PREFIX, Account, Row, stamp
from credits_core.registry import load_default_registry
from tests.core.conftest import T0

USERS = ("alice", "bob", "carol")
DEFAULT = load_default_registry()
TOOLS = (*(t.id for t in DEFAULT.tools), "no_such_tool")
OPEN_TOOLS = tuple(t.id for t in DEFAULT.tools if t.min_plan is None)
PLANS = tuple(p.id for p in DEFAULT.plans)
PACKS = tuple(p.id for p in DEFAULT.packs)
MONTHLY = {p.id: p.monthly_included for p in DEFAULT.plans}
CAP = {p.id: p.soft_cap for p in DEFAULT.plans}
# Where a run starts on the injected clock: mid-month, and the instants of `make test-dates`
# (the 1st at 00:00:30, 31 December at 23:59:30, 29 February), so rollovers and TTLs cross them.
STARTS = (
    T0,
    datetime(2027, 3, 1, 0, 0, 30, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 59, 30, tzinfo=UTC),
    datetime(2028, 2, 29, 12, 0, tzinfo=UTC),
)
ROLLOVER_TRIM = "soft cap at rollover"


class Outcome:
    """What one call answered on one store: a result or an error code."""

    def __init__(self, result: Any = None, error: CreditsError | None = None) -> None:
        self.result, self.error = result, error

    @property
    def code(self) -> str | None:
        return self.error.code if self.error else None

    def key(self) -> Any:
        return ("error", self.error.code, self.error.details) if self.error else ("ok", self.result)


@dataclass
class FirstAnswers:
    """The first answer of every key the machine sent: what a replay repeats, and what the ledger must hold."""

    debits: dict[str, tuple[str, str, Any]] = field(default_factory=dict)  # key → (user, tool, answer)
    refunds: dict[str, Any] = field(default_factory=dict)  # debit key → answer
    sessions: dict[str, tuple[str, Any]] = field(default_factory=dict)  # checkout session → (user, answer)
    adjusts: dict[str, tuple[str, Any]] = field(default_factory=dict)  # key → (user, answer)
    holds: dict[str, tuple[str, str, Any]] = field(default_factory=dict)  # key → (user, tool, answer)
    ends: dict[str, Any] = field(default_factory=dict)  # hold key → first settle / release answer

    def check(self, rows: list[Row]) -> None:
        """Each key wrote exactly the row of its first answer, and no row of these kinds lacks an answer."""
        named = {r.name: r for r in rows}
        expected = {
            **{keys.debit_name(k): a.row for k, (_u, _t, a) in self.debits.items()},
            **{keys.refund_name(k): a.row for k, a in self.refunds.items()},
            **{keys.topup_name(k): a.row for k, (_u, a) in self.sessions.items()},
            **{keys.adjust_name(k): a.row for k, (_u, a) in self.adjusts.items()},
            **{keys.hold_name(k): a.row for k, (_u, _t, a) in self.holds.items()},
            **{a.row.name: a.row for a in self.ends.values()},
        }
        for name, row in expected.items():
            assert named.get(name) == row, f"{name}: the ledger holds {named.get(name)}, the first answer {row}"
        answered = ("debit", "refund", "topup", "adjust", "hold", "settle")  # releases may come from expiry
        written = {n for n in named if n.removeprefix(ROW_PREFIX).split("|", 1)[0] in answered}
        assert written <= set(expected), f"rows no first answer accounts for: {sorted(written - set(expected))}"


@dataclass(frozen=True)
class Edge:
    """Units at the edge of what an account can cover: ``room // unit price + offset`` (boundaries of 402 and shortfall)."""

    offset: int

    def units(self, room: int, price: int) -> int:
        return max(0, (max(0, room) // price if price else 0) + self.offset)


EDGES = st.builds(Edge, st.integers(-2, 2))


def by_user(rows: list[Row]) -> dict[str, list[Row]]:
    """``rows`` (newest first, as stores list them) per user, oldest first."""
    out: dict[str, list[Row]] = defaultdict(list)
    for row in reversed(rows):
        out[row.user_id].append(row)
    return dict(out)


def raw_available(acc: Account) -> int:
    """Balance − every hold not ended by a row, unclamped (when a debit, hold or settle row is written, these are
    the active holds: the transaction released the expired ones first)."""
    return acc.balance.total - acc.held


def check_ledger(rows: list[Row], now: datetime, enforced: Collection[str] = ()) -> dict[str, Account]:
    """Every rule over a whole ledger (``rows`` newest first); each user's account as the rows add up.

    ``enforced`` names the rows written while the service enforced the balance.
    """
    names = [r.name for r in rows]
    assert len(names) == len(set(names)), "a row name was stored twice"
    return {user: check_user_history(user, mine, now, enforced) for user, mine in by_user(rows).items()}


def check_user_history(user: str, rows: list[Row], now: datetime, enforced: Collection[str] = ()) -> Account:
    """Rules that must hold over one user's whole history (oldest first), from the rows alone."""
    acc = Account(user)
    after_rollover = False
    granted: dict[str, int] = defaultdict(int)
    plans_held: dict[str, set[str]] = defaultdict(set)
    debits: dict[str, Row] = {}
    holds = HoldLedger()
    lowered = False  # a trim or an ops correction took credits (README "Holds", known edge)
    for row in rows:
        assert row.user_id == user and row.name.startswith(ROW_PREFIX), row
        plan = acc.plan or "base"
        if after_rollover and not (row.kind == "trim" and row.meta.get("reason") == ROLLOVER_TRIM):
            assert acc.balance.included <= CAP[plan], f"included above the soft cap after rollover: {acc}"
            after_rollover = False
        if row.purchased_delta < 0:
            assert row.kind in ("debit", "adjust"), f"{row.kind} reduced purchased credits"
        if row.kind == "trim":
            assert row.purchased_delta == 0 and row.delta < 0
        if row.kind == "grant":
            after_rollover = True
            plans_held[row.meta["month"]].add(plan)
            granted[row.meta["month"]] += row.delta
            assert 0 <= row.delta <= MONTHLY[plan]
        if row.kind == "upgrade":
            granted[row.meta["month"]] += row.delta
        if row.kind == "plan":
            plans_held[row.meta["month"]].add(row.meta["plan"])
        if row.kind == "debit":
            assert row.delta <= 0
            assert row.delta == -row.meta["cost"] or (row.delta == 0 and row.meta.get("shortfall") == row.meta["cost"])
            if row.name.startswith(f"{ROW_PREFIX}debit|"):
                debits[row.name.removeprefix(f"{ROW_PREFIX}debit|")] = row
                if row.name in enforced:
                    assert "shortfall" not in row.meta, f"{row.name}: a shortfall written under enforcement"
        if row.kind == "refund":
            debit = debits[row.name.removeprefix(f"{ROW_PREFIX}refund|")]  # refunds a debit of this user, once
            assert (row.delta, row.included_delta) == (-debit.delta, -debit.included_delta)
        if row.kind == "hold" and row.name in enforced:
            assert "shortfall" not in row.meta, f"{row.name}: a hold short of its estimate under enforcement"
        before = acc
        holds.check(row, before)
        acc = acc.with_rows([row])
        assert acc.balance.included >= 0 and acc.balance.purchased >= 0, f"a balance went negative: {acc}"
        assert acc.held == holds.held, f"{row.name}: the account holds {acc.held}, the rows {holds.held}"
        holds.check_freed(row, before, acc)
        if row.kind == "trim" or (row.kind == "adjust" and row.delta < 0):
            lowered = True  # only these may leave the balance below the holds
        elif raw_available(acc) < 0:
            assert raw_available(acc) >= raw_available(before), (
                f"{row.name} took available (balance − active holds) to {raw_available(acc)}: {acc}"
            )
    assert acc.balance.total == sum(r.delta for r in rows)
    assert acc.balance.included == sum(r.included_delta for r in rows)
    if after_rollover:
        assert acc.balance.included <= CAP[acc.plan or "base"]
    for month, total in granted.items():
        assert total <= max(MONTHLY[p] for p in plans_held[month]), f"{month}: granted {total} > highest plan held"
    active = holds.active(now)
    assert {h[0] for h in acc.active_holds(now)} == set(active), "active holds differ from the rows'"
    available = acc.balance.total - sum(active.values())
    assert acc.available(now) == max(0, available)
    assert available >= 0 or lowered, f"available {available} < 0 at {stamp(now)} and no trim or correction did it"
    return acc


class HoldLedger:
    """The holds of one user, followed row by row without ``Account``: reserved, ended, expired."""

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}  # hold key → its hold row
        self.open: dict[str, Row] = {}  # holds reserving credits (held > 0) not ended by a row
        self.ended: dict[str, Row] = {}  # hold key → its settle or release row

    @property
    def held(self) -> int:
        return sum(int(h.meta["held"]) for h in self.open.values())

    def active(self, now: datetime) -> dict[str, int]:
        """Open holds not expired at ``now`` (an expired one counts as released even before its row)."""
        at = stamp(now)
        return {k: int(h.meta["held"]) for k, h in self.open.items() if h.meta["expiresAt"] > at}

    def check(self, row: Row, acc: Account) -> None:
        """``row`` keeps the hold rules given the rows before it (``acc`` folds them)."""
        at = stamp(row.created_at)
        if not self._ends_by_expiry(row):  # the user's transaction releases expired holds before anything else
            late = [k for k, h in self.open.items() if h.meta["expiresAt"] <= at]
            assert not late or self._is_rollover(row), f"{row.name} at {at}: expired holds {late} not released first"
        kind = row.name.removeprefix(ROW_PREFIX).split("|", 1)[0]
        if kind == "hold":
            self._reserve(row, at)
        elif kind in ("settle", "release"):
            self._end(row, kind, at)

    def _reserve(self, row: Row, at: str) -> None:
        meta, key = row.meta, row.meta["hold"]
        assert row.kind == "hold" and row.name == f"{ROW_PREFIX}hold|{key}" and key not in self.rows
        assert (row.delta, row.included_delta) == (0, 0)
        assert meta["estimate"] == meta["unitPrice"] * meta["units"]
        assert 0 <= meta["held"] == meta["estimate"] - meta.get("shortfall", 0)
        assert meta["expiresAt"] > at
        self.rows[key] = row
        if meta["held"] > 0:
            self.open[key] = row

    def _end(self, row: Row, kind: str, at: str) -> None:
        meta, key = row.meta, row.meta["hold"]
        assert row.name == f"{ROW_PREFIX}{kind}|{key}"
        assert key in self.rows, f"{row.name} ends a hold this user never took"
        assert key not in self.ended, f"{row.name}: the hold was already ended by {self.ended.get(key)}"
        hold = self.rows[key]
        reserved = int(hold.meta["held"])
        assert (meta["reserved"], meta["held"]) == (reserved, -reserved), "an end row frees another amount"
        if kind == "settle":
            charged = -row.delta
            assert row.kind == "debit" and charged == meta["cost"] >= 0
            assert meta["unitPrice"] == hold.meta["unitPrice"], "the settle did not charge at the price the hold locked"
            assert meta["actualCost"] == meta["unitPrice"] * meta["units"] == charged + meta.get("shortfall", 0)
            assert meta["released"] == max(0, reserved - charged)
            assert at < hold.meta["expiresAt"], f"{row.name} settled an expired hold"
        else:
            assert row.kind == "release" and (row.delta, row.included_delta) == (0, 0)
            if meta["reason"] == "expired":
                assert at >= hold.meta["expiresAt"], f"{row.name} released a live hold as expired"
            elif reserved > 0:
                assert at < hold.meta["expiresAt"], f"{row.name} released an expired hold as {meta['reason']!r}"
        self.ended[key] = row
        self.open.pop(key, None)

    def check_freed(self, row: Row, before: Account, after: Account) -> None:
        """A hold reserves exactly its ``held``; its settle, release or expiry frees exactly that."""
        if "hold" not in row.meta:
            assert after.held == before.held, f"{row.name} changed the holds"
            return
        moved = int(row.meta["held"]) if row.kind == "hold" else -int(self.rows[row.meta["hold"]].meta["held"])
        assert after.held - before.held == moved, f"{row.name} moved held by {after.held - before.held}, not {moved}"

    @staticmethod
    def _ends_by_expiry(row: Row) -> bool:
        return row.kind == "release" and row.meta.get("reason") == "expired"

    @staticmethod
    def _is_rollover(row: Row) -> bool:
        """Grants (and their trims) of a transaction come before its releases of expired holds."""
        return row.kind == "grant" or (row.kind == "trim" and row.meta.get("reason") == ROLLOVER_TRIM)
