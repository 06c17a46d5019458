"""Replay a window of the real ledger under a candidate registry (pure; streamed over rows).

Users' own actions are kept — every tool use, plan change, purchase, refund
and ops adjustment, in ledger order — and everything the rules derive from
them is recomputed with :mod:`credits_core.policy` under the candidate:
monthly grants and the soft cap (``rollover_rows``), plan changes with trim
and bounded upgrade grant (``plan_change_rows``), the debit split
(``split_cost``: included first), and the cheapest packs (``cheapest_packs``)
that would cover what a user used without cover. Grant, upgrade and trim rows
of the ledger are therefore not copied: the candidate writes its own.

Only what the candidate *changes* is re-priced: a tool (pack) whose cost
(credits and price) equals the baseline registry's keeps the amount its row
recorded, so the unchanged price list reproduces history exactly, even rows
charged under older registry versions. Each user starts the window with the
balance and month state the ledger gives them at ``since``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

from ..clock import add_months
from ..models import Account, Balance, Row
from ..policy import plan_change_rows, rollover_rows
from ..policy.debits import split_cost
from ..policy.packs import cheapest_packs
from ..registry import Registry
from .outcome import Outcome, ReplayReport, UserReplay

Progress = Callable[[int, int], None]
PROGRESS_EVERY = 5_000


def last_full_month(now: datetime) -> tuple[datetime, datetime]:
    """``[first instant of last month, first instant of this month)`` in UTC (the default window)."""
    this = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return add_months(this, -1), this


def month_start_after(at: datetime) -> datetime:
    """The first instant of the calendar month after ``at``'s (UTC)."""
    return add_months(at.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0), 1)


@dataclass
class _Side:
    """One side's running state for one user: buckets, derived account, month's plans."""

    acc: Account
    inc: int
    pur: int
    out: Outcome = field(default_factory=Outcome)
    charges: dict[str, tuple[int, int]] = field(default_factory=dict)  # debit name → (included, purchased)
    short_by_month: dict[str, int] = field(default_factory=dict)

    def account(self) -> Account:
        return replace(self.acc, balance=Balance(self.inc, self.pur))

    def fold(self, rows: list[Row]) -> None:
        self.acc = self.account().with_rows(rows)
        self.inc, self.pur = self.acc.balance.included, self.acc.balance.purchased


@dataclass
class _User:
    user_id: str
    actual: _Side
    cand: _Side
    month_end: datetime | None = None
    month: str = ""
    default: str | None = None  # the plan in force without a plan row, from the grant rows
    plans: dict[str, set[str]] = field(default_factory=dict)  # month → plans held (same on both sides)


class _Prices:
    """Lookups of one registry, built once (the hot loop avoids pydantic calls)."""

    def __init__(self, reg: Registry, base: Registry) -> None:
        self.reg = reg
        base_tools = {t.id: t.credits for t in base.tools}
        self.cost = {t.id: t.credits for t in reg.tools}
        self.changed = {t.id for t in reg.tools if base_tools.get(t.id) != t.credits}
        self.gate = {t.id: reg.plan(t.min_plan).rank for t in reg.tools if t.min_plan and _has_plan(reg, t.min_plan)}
        base_packs = {p.id: (p.credits, p.price) for p in base.packs}
        self.packs = {p.id: (p.credits, p.price) for p in reg.packs if base_packs.get(p.id) != (p.credits, p.price)}
        self._ranks: dict[str, int] = {}

    def rank(self, plan_id: str | None) -> int:
        key = plan_id or self.reg.default_plan
        if key not in self._ranks:
            self._ranks[key] = _plan_or_default(self.reg, key).rank
        return self._ranks[key]

    def price(self, plan_id: str) -> int:
        return _plan_or_default(self.reg, plan_id).monthly_price


def replay(
    rows: Iterable[Row],
    baseline: Registry,
    candidate: Registry,
    since: datetime,
    until: datetime,
    *,
    total: int = 0,
    progress: Progress | None = None,
) -> ReplayReport:
    """Replay ``rows`` (every row before ``until``, per user in ledger order; rows
    before ``since`` only set the starting state) under ``candidate``.

    ``baseline`` is the registry that priced history (the live one). ``total``
    (rows expected, for ``progress(done, total)``) is optional.
    """
    base, cand = _Prices(baseline, baseline), _Prices(candidate, baseline)
    starts: dict[str, Account] = {}
    upgrades: set[str] = set()
    users: dict[str, _User] = {}
    done = 0
    for row in rows:
        done += 1
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done, total)
        if row.created_at < since:
            starts[row.user_id] = starts.get(row.user_id, Account(row.user_id)).with_rows([row])
            if row.kind == "upgrade":
                upgrades.add(row.name)
            continue
        if row.created_at >= until:
            continue
        u = users.get(row.user_id)
        if u is None:
            acc = starts.pop(row.user_id, None) or Account(row.user_id)
            b = acc.balance
            u = users[row.user_id] = _User(
                row.user_id, _Side(acc, b.included, b.purchased), _Side(acc, b.included, b.purchased)
            )
        _step(u, row, base, cand, upgrades)
    if progress is not None:
        progress(done, max(total, done))
    report = tuple(_finish(u, base, cand) for u in users.values())
    currency = baseline.plans[0].currency if baseline.plans else "usd"
    return ReplayReport(since, until, done, currency, report)


def _step(u: _User, row: Row, base: _Prices, cand: _Prices, upgrades: set[str]) -> None:
    """Apply one ledger row to both sides of ``u``."""
    at = row.created_at
    if u.month_end is None or at >= u.month_end:
        _new_month(u, row, cand)
    a, c, kind, meta = u.actual, u.cand, row.kind, row.meta
    delta, inc_delta = row.delta, row.included_delta
    # The actual side is the ledger itself.
    a.inc += inc_delta
    a.pur += delta - inc_delta
    if kind == "debit":  # the hot path: kept flat
        tool = meta.get("tool", "")
        short = meta.get("shortfall")
        a.out.charged -= delta
        if short:
            _short(a, u.month, short, at)
        cost = cand.cost[tool] if tool in cand.changed else meta.get("cost", -delta)
        if tool in cand.gate and cand.gate[tool] > cand.rank(c.acc.plan or u.default):
            c.out.blocked += 1
            c.charges[row.name] = (0, 0)
            return
        part = split_cost(c.inc, c.pur, cost)
        if part is None:
            _short(c, u.month, cost, at)
            c.charges[row.name] = (0, 0)
            return
        c.inc -= part
        c.pur -= cost - part
        c.out.charged += cost
        if part != -inc_delta or cost != -delta:  # a refund returns what the candidate charged
            c.charges[row.name] = (part, cost - part)
    elif kind == "refund":
        a.out.charged += row.delta
        inc, pur = c.charges.pop(meta.get("refundOf", ""), (row.included_delta, row.delta - row.included_delta))
        c.inc += inc
        c.pur += pur
        c.out.charged -= inc + pur
    elif kind == "topup":
        a.out.top_ups += int(meta.get("price", 0))
        a.out.top_up_credits += row.delta
        credits, price = cand.packs.get(meta.get("pack", ""), (row.delta, int(meta.get("price", 0))))
        c.pur += credits
        c.out.top_ups += price
        c.out.top_up_credits += credits
    elif kind == "trim":
        a.out.trimmed -= row.delta
    elif kind == "plan":
        plan_id = meta.get("plan", "")
        u.plans.setdefault(u.month, set()).add(plan_id)
        a.acc = a.acc.with_rows([row])
        if _has_plan(cand.reg, plan_id):

            def lookup(name: str) -> Row | None:  # the plan row itself is new; upgrades may exist
                return row if name in upgrades else None

            reg = cand.reg if u.default is None else cand.reg.with_default_plan(u.default)
            decision = plan_change_rows(c.account(), reg, plan_id, row.name.split("|", 3)[-1], at, lookup)
            upgrades.update(r.name for r in decision.rows if r.kind == "upgrade")
            c.out.trimmed -= sum(r.delta for r in decision.rows if r.kind == "trim")
            c.fold(decision.rows)
    elif kind == "adjust":
        c.inc = max(0, c.inc + row.included_delta)
        c.pur = max(0, c.pur + row.delta - row.included_delta)
    elif kind not in ("grant", "upgrade"):  # holds, checkpoints, future kinds: as recorded
        c.inc += row.included_delta
        c.pur += row.delta - row.included_delta


def _new_month(u: _User, row: Row, cand: _Prices) -> None:
    """The first row of a calendar month: the candidate's own grant (and cap trim).

    A user with no plan row was on the default plan *of the time*, which the
    ledger's grant row records: that plan stays in force (not today's starter plan).
    """
    at = row.created_at
    if row.kind == "grant" and u.actual.acc.plan is None and _has_plan(cand.reg, row.meta.get("plan", "")):
        u.default = row.meta["plan"]
    reg = cand.reg if u.default is None else cand.reg.with_default_plan(u.default)
    rows = rollover_rows(u.cand.account(), reg, at)
    u.cand.out.trimmed -= sum(r.delta for r in rows if r.kind == "trim")
    u.cand.fold(rows)
    u.month = f"{at.year:04d}-{at.month:02d}"
    u.month_end = month_start_after(at)
    u.plans.setdefault(u.month, set()).add(u.actual.acc.plan or u.default or cand.reg.default_plan)


def _short(side: _Side, month: str, credits: int, at: datetime) -> None:
    out = side.out
    out.shortfall += credits
    by_month = side.short_by_month
    by_month[month] = by_month.get(month, 0) + credits
    if out.run_out is None:
        out.run_out = date(at.year, at.month, at.day)


def _finish(u: _User, base: _Prices, cand: _Prices) -> UserReplay:
    for side, prices in ((u.actual, base), (u.cand, cand)):
        side.out.end = Balance(side.inc, side.pur)
        side.out.subscription = sum(max(prices.price(p) for p in held) for held in u.plans.values())
        side.out.cover = sum(_cover(short, prices.reg) for short in side.short_by_month.values())
    plan = u.actual.acc.plan or u.default or base.reg.default_plan
    return UserReplay(u.user_id, plan, len(u.plans), u.actual.out, u.cand.out)


def _cover(shortfall: int, reg: Registry) -> int:
    """Price of the cheapest packs covering ``shortfall`` (0 when no pack can)."""
    try:
        return cheapest_packs(shortfall, reg.packs).price
    except ValueError:
        return 0


def _has_plan(reg: Registry, plan_id: str) -> bool:
    try:
        reg.plan(plan_id)
    except Exception:
        return False
    return True


def _plan_or_default(reg: Registry, plan_id: str):
    return reg.plan(plan_id) if _has_plan(reg, plan_id) else reg.plan(reg.default_plan)
