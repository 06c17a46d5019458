"""Pricing preview: personas × plans — credits needed, top-ups bought, effective monthly price.

Usage, tool costs, plan grants/prices/caps and packs are editable for what-if
questions; nothing is saved (the computation is ``credits_ui.pricing``).
"Replay real usage" re-runs a window of the ledger under the edited price list
(``CreditsService.replay``; tables and charts from ``credits_ui.replay_view``).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from credits_core.insights import last_full_month
from credits_core.seed import PERSONA_PLAN, PERSONAS
from credits_ui import pricing, replay_view
from credits_ui.components.admin import Scope, choose_scope, unlock_form
from credits_ui.components.errors import capture, show_error
from credits_ui.components.export import export_button
from credits_ui.fmt import money
from credits_ui.layout import page_header, page_session
from credits_ui.main import run_page
from credits_ui.session import UiSession
from credits_ui.session.admin import can_view_ops, secret_unlocked

_EDITORS = ("cz_price_usage", "cz_price_tools", "cz_price_plans", "cz_price_packs")
_REPLAY = "cz_replay_report"


def _reset() -> None:
    for key in _EDITORS:
        st.session_state.pop(key, None)


def _usage_editor(tools: list[pricing.ToolCost]) -> dict[str, dict[str, int]]:
    frame = pd.DataFrame(
        {"Tool": [t.label for t in tools], **{name: [PERSONAS[name].get(t.id, 0) for t in tools] for name in PERSONAS}},
        index=[t.id for t in tools],
    )
    edited = st.data_editor(
        frame,
        key="cz_price_usage",
        hide_index=True,
        disabled=["Tool"],
        column_config={
            name: st.column_config.NumberColumn(name.title(), min_value=0, step=1, format="%d") for name in PERSONAS
        },
    )
    return {name: {tid: int(v) for tid, v in edited[name].fillna(0).items()} for name in PERSONAS}


def _tools_editor(tools: list[pricing.ToolCost], plan_labels: dict[int, str]) -> list[pricing.ToolCost]:
    frame = pd.DataFrame(
        {
            "Tool": [t.label for t in tools],
            "Credits": [t.credits for t in tools],
            "Plan gate": [
                plan_labels.get(t.min_rank, "") + "+" if t.min_rank is not None else "Any plan" for t in tools
            ],
        },
        index=[t.id for t in tools],
    )
    edited = st.data_editor(
        frame,
        key="cz_price_tools",
        hide_index=True,
        disabled=["Tool", "Plan gate"],
        column_config={"Credits": st.column_config.NumberColumn("Credits per use", min_value=0, step=1, format="%d")},
    )
    credits = edited["Credits"].fillna(0).astype(int)
    return [pricing.ToolCost(t.id, t.label, int(credits[t.id]), t.min_rank) for t in tools]


def _plans_editor(plans: list[pricing.PlanOption], caps: dict[str, float]) -> tuple[list[pricing.PlanOption], dict[str, float]]:
    frame = pd.DataFrame(
        {
            "Plan": [p.label for p in plans],
            "Price / month": [p.monthly_price / 100 for p in plans],
            "Included credits / month": [p.monthly_included for p in plans],
            "Soft cap ×": [caps.get(p.id, 3.0) for p in plans],
        },
        index=[p.id for p in plans],
    )
    edited = st.data_editor(
        frame,
        key="cz_price_plans",
        hide_index=True,
        disabled=["Plan"],
        column_config={
            "Price / month": st.column_config.NumberColumn(min_value=0.0, step=1.0, format="$%.2f"),
            "Included credits / month": st.column_config.NumberColumn(min_value=0, step=10, format="%d"),
            "Soft cap ×": st.column_config.NumberColumn(
                min_value=1.0, max_value=100.0, step=0.5, format="%.1f",
                help="Soft cap = this × included credits (used by the replay; the persona table is steady-state)",
            ),
        },
    )
    options = [
        pricing.PlanOption(
            p.id,
            p.label,
            round(float(edited.at[p.id, "Price / month"] or 0) * 100),
            int(edited.at[p.id, "Included credits / month"] or 0),
            p.rank,
            p.currency,
        )
        for p in plans
    ]
    return options, {p.id: max(1.0, float(edited.at[p.id, "Soft cap ×"] or 1.0)) for p in plans}


def _packs_editor(packs: list[pricing.PackOption]) -> list[pricing.PackOption]:
    frame = pd.DataFrame(
        {
            "Pack": [p.label for p in packs],
            "Credits": [p.credits for p in packs],
            "Price": [p.price / 100 for p in packs],
        },
        index=[p.id for p in packs],
    )
    edited = st.data_editor(
        frame,
        key="cz_price_packs",
        hide_index=True,
        disabled=["Pack"],
        column_config={
            "Credits": st.column_config.NumberColumn(min_value=1, step=50, format="%d"),
            "Price": st.column_config.NumberColumn(min_value=0.0, step=1.0, format="$%.2f"),
        },
    )
    return [
        pricing.PackOption(
            p.id,
            p.label,
            max(1, int(edited.at[p.id, "Credits"] or 1)),
            round(float(edited.at[p.id, "Price"] or 0) * 100),
            p.currency,
        )
        for p in packs
    ]


def _results_frame(
    quotes: list[pricing.Quote], packs: list[pricing.PackOption], tools: list[pricing.ToolCost], currency: str
) -> pd.DataFrame:
    best = pricing.best_plan(quotes)
    pack_labels = {p.id: p.label for p in packs}
    tool_labels = {t.id: t.label for t in tools}
    return pd.DataFrame(
        [
            {
                "Persona": q.persona.title(),
                "Plan": q.plan_label + (" ★" if best.get(q.persona) == q.plan_id else ""),
                "Credits needed": q.credits_needed,
                "Included": q.included,
                "Top-ups bought": q.packs.describe(pack_labels),
                "Packs": q.packs.packs_bought,
                "Subscription": money(q.subscription, currency),
                "Top-ups": money(q.top_up_price, currency),
                "Effective / month": money(q.effective_price, currency),
                "Can't use": ", ".join(tool_labels.get(t, t) for t in q.blocked_tools),
            }
            for q in quotes
        ]
    )


def _chart(quotes: list[pricing.Quote]) -> alt.FacetChart:
    data = pd.DataFrame(
        [
            {
                "persona": q.persona.title(),
                "plan": q.plan_label,
                "part": part,
                "dollars": amount / 100,
                "rank": i,
                "fit": "Every tool" if q.complete else "Missing tools",
            }
            for i, q in enumerate(quotes)
            for part, amount in (("Subscription", q.subscription), ("Top-ups", q.top_up_price))
        ]
    )
    plan_order = list(dict.fromkeys(q.plan_label for q in quotes))
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("plan:N", sort=plan_order, title=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("sum(dollars):Q", title="Effective price / month ($)"),
            color=alt.Color(
                "part:N", title=None, scale=alt.Scale(domain=["Subscription", "Top-ups"], range=["#2F5BEA", "#F2A541"])
            ),
            opacity=alt.Opacity(
                "fit:N", title="Plan fit", scale=alt.Scale(domain=["Every tool", "Missing tools"], range=[1.0, 0.35])
            ),
            tooltip=[
                alt.Tooltip("persona:N", title="Persona"),
                alt.Tooltip("plan:N", title="Plan"),
                alt.Tooltip("part:N", title="Part"),
                alt.Tooltip("dollars:Q", title="$", format=",.2f"),
                alt.Tooltip("fit:N", title="Plan fit"),
            ],
        )
        .properties(width=230, height=260)
        .facet(column=alt.Column("persona:N", title=None, sort=list(dict.fromkeys(q.persona.title() for q in quotes))))
    )


def render() -> None:
    """The Pricing preview page."""
    page_header(
        "Pricing preview",
        "What a month costs each persona on each plan: included credits first, then the cheapest top-up packs.",
    )
    ui = page_session()
    if ui is None:
        return
    registry = ui.service.registry
    plans, tools, packs = pricing.options_from_registry(registry)
    currency = plans[0].currency if plans else "usd"
    plan_labels = {p.rank: p.label for p in plans}

    with st.expander("What-if inputs (not saved)", icon=":material/tune:", expanded=False):
        st.caption(
            f"Start from the live registry (version {registry.version}) and the seeded personas; "
            "edit any number to see the effect. Nothing here changes the registry."
        )
        t1, t2, t3, t4 = st.tabs(["Monthly usage", "Tool costs", "Plans", "Packs"])
        with t1:
            usage = _usage_editor(tools)
        with t2:
            tools = _tools_editor(tools, plan_labels)
        with t3:
            plans, caps = _plans_editor(plans, {p.id: p.soft_cap_multiplier for p in registry.plans})
        with t4:
            packs = _packs_editor(packs)
        st.button("Reset what-if", icon=":material/undo:", on_click=_reset, key="cz_price_reset")

    try:
        quotes = pricing.quote_all(usage, plans, tools, packs)
    except ValueError as exc:
        st.error(f"Cannot price this: {exc}.", icon=":material/error:")
        return
    best = pricing.best_plan(quotes)
    cols = st.columns(len(usage))
    for col, persona in zip(cols, usage, strict=False):
        q = next((q for q in quotes if q.persona == persona and q.plan_id == best.get(persona)), None)
        if q is None:
            col.metric(persona.title(), "—", border=True)
            continue
        seeded = PERSONA_PLAN.get(persona)
        col.metric(
            persona.title(),
            f"{money(q.effective_price, currency)}/mo",
            border=True,
            help=f"Cheapest plan with every tool this persona uses: {q.plan_label}. "
            f"{q.credits_needed:,} credits/month; {q.packs.packs_bought} top-up pack(s).",
        )
        col.caption(f"Best: **{q.plan_label}**" + (f" · seeded on {seeded.title()}" if seeded else ""))

    st.subheader("Personas × plans", anchor=False)
    st.dataframe(
        _results_frame(quotes, packs, tools, currency),
        hide_index=True,
        key="cz_price_results",
        column_config={
            "Credits needed": st.column_config.NumberColumn(format="%d"),
            "Included": st.column_config.NumberColumn(format="%d"),
            "Can't use": st.column_config.TextColumn(
                help="Tools this persona uses that the plan does not include (not counted)"
            ),
        },
    )
    st.caption(
        "★ cheapest plan that includes every tool the persona uses. Top-ups are the cheapest pack mix covering "
        "the monthly shortfall; unused included credits carry over up to the soft cap."
    )
    st.altair_chart(_chart(quotes))
    _replay_section(ui, tools, plans, packs, caps)


def _replay_scope(ui: UiSession) -> Scope | None:
    """Whose ledger the replay reads: the server's for admins, else this DEMO session's."""
    if not ui.is_demo and not can_view_ops(ui):
        st.info("Replaying the server ledger is for admins (`CZ_ADMIN_USERS` or the admin secret).", icon=":material/lock:")
        unlock_form("cz_replay_unlock")
        return None
    if ui.is_demo and not secret_unlocked():
        with st.expander("Replay the server ledger (admin secret)", icon=":material/key:"):
            unlock_form("cz_replay_unlock")
    return choose_scope(ui, key="cz_replay")


def _replay_section(
    ui: UiSession,
    tools: list[pricing.ToolCost],
    plans: list[pricing.PlanOption],
    packs: list[pricing.PackOption],
    caps: dict[str, float],
) -> None:
    """Replay real usage under the price list edited above, beside what actually happened."""
    st.subheader("Replay real usage", anchor="replay")
    st.caption(
        "Every tool use, plan change and purchase of a window of the ledger, re-priced under the price list "
        "edited above: grants, the soft cap, refunds and top-ups re-run per user, beside what actually happened."
    )
    scope = _replay_scope(ui)
    if scope is None:
        return
    service = scope.service
    candidate = replay_view.candidate_registry(service.registry, tools, plans, packs, caps)
    since, until = last_full_month(service.now())
    c1, c2, c3 = st.columns([3, 2, 1], vertical_alignment="bottom")
    picked = c1.date_input(
        "Window (UTC days, both included)",
        value=(since.date(), (until - timedelta(days=1)).date()),
        key="cz_replay_window",
        help="Default: the last full calendar month",
    )
    c2.caption(f"Ledger: **{scope.label}**" + (" · DEMO" if scope.is_demo else ""))
    run = c3.button("Replay", type="primary", icon=":material/replay:", key="cz_replay_run", width="stretch")
    if not (isinstance(picked, tuple) and len(picked) == 2):
        st.caption("Pick a first and a last day.")
        return
    since = datetime.combine(picked[0], time(), UTC)
    until = datetime.combine(picked[1] + timedelta(days=1), time(), UTC)
    key = (scope.label, since, until, candidate.model_dump_json())
    if run:
        bar = []

        def progress(done: int, total: int) -> None:
            if not bar:
                bar.append(st.progress(0.0))
            bar[0].progress(min(1.0, done / max(total, 1)), text=f"Replaying {done:,} of {total:,} ledger rows")

        report, err = capture(service.replay, (since, until), candidate, progress=progress)
        if bar:
            bar[0].empty()
        if report is None:
            show_error(err)  # type: ignore[arg-type]
            return
        st.session_state[_REPLAY] = (key, report)
    stored = st.session_state.get(_REPLAY)
    if stored is None:
        st.caption("Press **Replay** to run it (it reads every row of the window).")
        return
    stored_key, report = stored
    if stored_key != key:
        st.info("The price list or the window changed since this replay: press **Replay** to update.", icon=":material/update:")
    _replay_result(report, {p.id: p.label for p in plans})


def _replay_result(report, labels: dict[str, str]) -> None:
    if not report.users:
        st.info("No ledger rows in this window.", icon=":material/inbox:")
        return
    matched = sum(u.matches for u in report.users)
    actual = sum(u.actual.revenue for u in report.users)
    cand = sum(u.candidate.revenue for u in report.users)
    currency = report.currency
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Users replayed", f"{len(report.users):,}", border=True, help=f"{report.rows:,} ledger rows read")
    m2.metric("Revenue, actual", money(actual, currency), border=True, help="Subscriptions + top-ups + cover of run-outs")
    m3.metric("Revenue, candidate", money(cand, currency), delta=money(cand - actual, currency), border=True)
    m4.metric("Same end balance", f"{matched:,} / {len(report.users):,}", border=True,
              help="Users whose end-of-window balance is unchanged under the candidate")
    summary = replay_view.summary_frame(report, labels)
    st.dataframe(
        summary,
        hide_index=True,
        key="cz_replay_summary",
        column_config={
            col: st.column_config.NumberColumn(col.replace(" $", ""), format="dollar")
            for col in summary.columns
            if " $" in col
        },
    )
    left, right = st.columns(2)
    left.altair_chart(replay_view.revenue_chart(report, labels))
    right.altair_chart(replay_view.run_out_chart(report))
    users = replay_view.users_frame(report)
    with st.expander("Per user", icon=":material/group:"):
        st.dataframe(users, hide_index=True, key="cz_replay_users")
    e1, e2 = st.columns(2)
    with e1:
        export_button(summary, "replay-summary.csv", label="Export comparison (CSV)", key="cz_replay_csv")
    with e2:
        export_button(users, "replay-users.csv", label="Export per user (CSV)", key="cz_replay_users_csv")


run_page(render)
