"""What a replay reports: per-user outcomes on both sides and per-plan summaries.

Pure values (no pandas): the page and the CSV export turn the records into
tables. Money is in minor units (cents) of the registry's currency.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from ..models import Balance

ALL = "All plans"


@dataclass
class Outcome:
    """One user's window on one side ("actual" from the rows, or "candidate" replayed)."""

    subscription: int = 0  # price of the highest-priced plan held, per month touched
    top_ups: int = 0  # price of the packs bought (the ledger's top-up rows)
    top_up_credits: int = 0
    cover: int = 0  # cheapest packs covering the credits used without cover (run-outs)
    charged: int = 0  # credits charged for tools (net of refunds)
    shortfall: int = 0  # credits of uses the balance did not cover
    trimmed: int = 0  # included credits removed by the soft cap (rollover or plan change)
    blocked: int = 0  # uses the candidate's plan gates would refuse
    run_out: date | None = None  # first UTC day a use was not covered
    end: Balance = field(default_factory=Balance)

    @property
    def revenue(self) -> int:
        """Subscription + top-ups bought + top-ups needed to cover run-outs."""
        return self.subscription + self.top_ups + self.cover


@dataclass
class UserReplay:
    """One user, what happened and what the candidate price list would have done."""

    user_id: str
    plan: str  # the plan the user ended the window on (actual)
    months: int = 0  # calendar months of the window the user was active in
    actual: Outcome = field(default_factory=Outcome)
    candidate: Outcome = field(default_factory=Outcome)

    @property
    def matches(self) -> bool:
        """True when the candidate's end-of-window balance equals the real one."""
        return self.actual.end == self.candidate.end


@dataclass(frozen=True)
class ReplayReport:
    """Every user of the window, replayed; ``rows`` is how many ledger rows were read."""

    since: datetime
    until: datetime
    rows: int
    currency: str
    users: tuple[UserReplay, ...]

    def user_records(self) -> list[dict]:
        """One flat record per user (actual / candidate side by side)."""
        out = []
        for u in self.users:
            rec = {"userId": u.user_id, "plan": u.plan, "months": u.months}
            for side, o in (("actual", u.actual), ("candidate", u.candidate)):
                rec |= {
                    f"{side}EndBalance": o.end.total,
                    f"{side}Subscription": o.subscription,
                    f"{side}TopUps": o.top_ups,
                    f"{side}Cover": o.cover,
                    f"{side}Charged": o.charged,
                    f"{side}Shortfall": o.shortfall,
                    f"{side}Trimmed": o.trimmed,
                    f"{side}RunOut": o.run_out.isoformat() if o.run_out else "",
                }
            out.append(rec)
        return out

    def summary_records(self, plan_order: Iterable[str] = ()) -> list[dict]:
        """Per plan and overall: each figure actual vs candidate (see README "Replay")."""
        groups: dict[str, list[UserReplay]] = {p: [] for p in plan_order}
        for u in self.users:
            groups.setdefault(u.plan, []).append(u)
        out = [_summary(plan, users) for plan, users in groups.items() if users]
        out.append(_summary(ALL, list(self.users)))
        return out


def _summary(plan: str, users: list[UserReplay]) -> dict:
    months = sum(u.months for u in users) or 1
    rec: dict = {"plan": plan, "users": len(users)}
    for side in ("actual", "candidate"):
        outs = [getattr(u, side) for u in users]
        rec |= {
            f"{side}Subscription": sum(o.subscription for o in outs),
            f"{side}TopUps": sum(o.top_ups for o in outs),
            f"{side}Cover": sum(o.cover for o in outs),
            f"{side}RunOutUsers": sum(o.run_out is not None for o in outs),
            f"{side}FirstRunOut": min((o.run_out for o in outs if o.run_out), default=None),
            f"{side}Trimmed": sum(o.trimmed for o in outs),
            f"{side}EffectivePerUserMonth": round(sum(o.revenue for o in outs) / months),
            f"{side}EndBalance": sum(o.end.total for o in outs),
        }
    return rec
