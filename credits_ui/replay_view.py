"""Replay on the Pricing page: the candidate registry from the what-if edits, and tables / charts of a report.

No credit rule here: the replay itself is ``CreditsService.replay``
(``credits_core.insights``); this turns edits into a ``Registry`` and a
``ReplayReport`` into pandas tables and Altair charts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import pandas as pd

from credits_core.insights import ReplayReport
from credits_core.registry import Registry

from .pricing import PackOption, PlanOption, ToolCost

SIDES = (("actual", "Actual"), ("candidate", "Candidate"))
_MONEY = ("Subscription", "TopUps", "Cover", "EffectivePerUserMonth")
_FIGURES = (
    ("Subscription", "Subscription $"),
    ("TopUps", "Top-ups $"),
    ("Cover", "Top-ups to cover run-outs $"),
    ("RunOutUsers", "Users who run out"),
    ("FirstRunOut", "First run-out"),
    ("Trimmed", "Credits trimmed by the cap"),
    ("EffectivePerUserMonth", "Effective $ / user / month"),
    ("EndBalance", "Credits left at the end"),
)


def candidate_registry(
    registry: Registry,
    tools: Sequence[ToolCost],
    plans: Sequence[PlanOption],
    packs: Sequence[PackOption],
    cap_multipliers: Mapping[str, float] | None = None,
) -> Registry:
    """``registry`` with the edited tool costs, plan prices / grants / caps and packs (not saved)."""
    cost = {t.id: t.credits for t in tools}
    plan = {p.id: p for p in plans}
    pack = {p.id: p for p in packs}
    caps = cap_multipliers or {}
    return registry.model_copy(
        update={
            "tools": tuple(t.model_copy(update={"credits": cost.get(t.id, t.credits)}) for t in registry.tools),
            "plans": tuple(
                p.model_copy(
                    update={
                        "monthly_price": plan[p.id].monthly_price if p.id in plan else p.monthly_price,
                        "monthly_included": plan[p.id].monthly_included if p.id in plan else p.monthly_included,
                        "soft_cap_multiplier": caps.get(p.id, p.soft_cap_multiplier),
                    }
                )
                for p in registry.plans
            ),
            "packs": tuple(
                p.model_copy(update={"credits": pack[p.id].credits, "price": pack[p.id].price}) if p.id in pack else p
                for p in registry.packs
            ),
        }
    )


def summary_frame(report: ReplayReport, labels: Mapping[str, str]) -> pd.DataFrame:
    """Per plan and overall, each figure actual beside candidate (money in dollars)."""
    records = []
    for rec in report.summary_records(labels):
        row = {"Plan": labels.get(rec["plan"], rec["plan"]), "Users": rec["users"]}
        for key, title in _FIGURES:
            for side, side_title in SIDES:
                value = rec[f"{side}{key}"]
                if key in _MONEY:
                    value = value / 100
                elif key == "FirstRunOut":
                    value = value.isoformat() if value else ""
                row[f"{title} · {side_title}"] = value
        records.append(row)
    return pd.DataFrame(records)


def users_frame(report: ReplayReport) -> pd.DataFrame:
    """One row per user: end balance, revenue parts, shortfall and run-out day on both sides."""
    frame = pd.DataFrame(report.user_records())
    for col in frame.columns:
        if any(col.endswith(k) for k in ("Subscription", "TopUps", "Cover")):
            frame[col] = frame[col] / 100
    return frame


def revenue_chart(report: ReplayReport, labels: Mapping[str, str]) -> alt.Chart:
    """Revenue per plan, actual beside candidate, stacked by part."""
    data = []
    for rec in report.summary_records(labels):
        if rec["plan"] == "All plans":
            continue
        for side, side_title in SIDES:
            for key, part in (("Subscription", "Subscription"), ("TopUps", "Top-ups"), ("Cover", "Cover run-outs")):
                data.append(
                    {
                        "plan": labels.get(rec["plan"], rec["plan"]),
                        "side": side_title,
                        "part": part,
                        "dollars": rec[f"{side}{key}"] / 100,
                    }
                )
    return (
        alt.Chart(pd.DataFrame(data, columns=["plan", "side", "part", "dollars"]))
        .mark_bar()
        .encode(
            x=alt.X("plan:N", title=None, axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("side:N", sort=[s for _, s in SIDES]),
            y=alt.Y("sum(dollars):Q", title="Revenue in the window ($)"),
            color=alt.Color(
                "part:N",
                title=None,
                scale=alt.Scale(
                    domain=["Subscription", "Top-ups", "Cover run-outs"], range=["#2F5BEA", "#F2A541", "#D64545"]
                ),
            ),
            opacity=alt.Opacity(
                "side:N", title=None, scale=alt.Scale(domain=["Actual", "Candidate"], range=[0.45, 1.0])
            ),
            tooltip=["plan:N", "side:N", "part:N", alt.Tooltip("dollars:Q", format=",.2f")],
        )
        .properties(height=280, title="Revenue per plan: actual (light) and candidate")
    )


def run_out_chart(report: ReplayReport) -> alt.Chart:
    """Users running out for the first time, per day, actual and candidate."""
    data = [
        {"day": getattr(u, side).run_out.isoformat(), "side": title}
        for u in report.users
        for side, title in SIDES
        if getattr(u, side).run_out is not None
    ]
    return (
        alt.Chart(pd.DataFrame(data, columns=["day", "side"]))
        .mark_bar()
        .encode(
            x=alt.X("day:O", title="Day they first run out (UTC)", axis=alt.Axis(labelAngle=-30)),
            y=alt.Y("count():Q", title="Users"),
            color=alt.Color(
                "side:N", title=None, scale=alt.Scale(domain=["Actual", "Candidate"], range=["#9AA5B1", "#D64545"])
            ),
            xOffset=alt.XOffset("side:N"),
            tooltip=[alt.Tooltip("day:O", title="Day"), "side:N", alt.Tooltip("count():Q", title="Users")],
        )
        .properties(height=280, title="Users who run out, by day")
    )
