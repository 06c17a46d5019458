"""Ops ledger: outstanding credits over time first, then daily movements per kind, top tools,
balance distribution, any user's ledger, holds, CSV and chained exports, Stripe reconciliation.

Admins only (``CZ_ADMIN_USERS`` or the admin secret). In DEMO mode, without
the secret, it shows the DEMO session's own ledger, labelled DEMO.
"""

from __future__ import annotations

from datetime import date

import altair as alt
import pandas as pd
import streamlit as st

from credits_core.models import KINDS
from credits_ui import ops_data
from credits_ui.components.admin import Scope, choose_scope, unlock_form
from credits_ui.components.chain_export import chain_export
from credits_ui.components.errors import capture, show_error
from credits_ui.components.export import export_button
from credits_ui.components.outstanding import outstanding_overview
from credits_ui.components.reconciliation import reconciliation_panel
from credits_ui.layout import page_header, page_session
from credits_ui.main import run_page
from credits_ui.session import UiSession
from credits_ui.session.admin import can_view_ops, secret_unlocked

ALL_USERS = "All users"
_REFRESH = "cz_ops_refresh"
KIND_COLORS = {
    "debit": "#E4572E",
    "grant": "#2F5BEA",
    "upgrade": "#17A2B8",
    "topup": "#29A36A",
    "refund": "#8E5CD9",
    "trim": "#F2A541",
    "adjust": "#7A8699",
    "plan": "#C9CED8",
    "checkpoint": "#5C6470",
    "hold": "#B8860B",
    "release": "#9AA5B1",
}


def _source(scope: Scope, ui: UiSession) -> tuple[str, str]:
    """Cache identity of the ledger shown, and a revision that changes with its data."""
    if scope.is_demo:
        return f"demo:{ui.user_id}", scope.service.revision(ui.user_id)
    return f"server:{scope.service.ledger_id}", str(st.session_state.get(_REFRESH, 0))


def _kind_scale(kinds: list[str]) -> alt.Scale:
    return alt.Scale(domain=kinds, range=[KIND_COLORS.get(k, "#999999") for k in kinds])


def _daily_chart(totals: pd.DataFrame, measure: str) -> alt.FacetChart:
    """Small multiples: one panel per kind (debits, grants, top-ups, trims, …), each on its own scale.

    Grants land on the 1st of a month and dwarf daily debits on a shared
    axis, so every kind gets its own y scale.
    """
    value = totals["credits"].abs() if measure == "credits" else totals["rows"]
    data = totals.assign(moved=value)
    data = data[data["moved"] > 0]
    kinds = [k for k in KINDS if k in set(data["kind"])]
    title = "Credits" if measure == "credits" else "Rows"
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("yearmonthdate(day):T", title=None, axis=alt.Axis(format="%b %d", labelAngle=0, tickCount=4)),
            y=alt.Y("sum(moved):Q", title=title, axis=alt.Axis(tickCount=3)),
            color=alt.Color("kind:N", scale=_kind_scale(kinds), legend=None),
            tooltip=[
                alt.Tooltip("yearmonthdate(day):T", title="Day"),
                alt.Tooltip("kind:N", title="Kind"),
                alt.Tooltip("credits:Q", title="Net credits", format=","),
                alt.Tooltip("rows:Q", title="Rows", format=","),
            ],
        )
        .properties(width=250, height=110)
        .facet(facet=alt.Facet("kind:N", title=None, sort=kinds, header=alt.Header(labelFontWeight="bold")), columns=2)
        .resolve_scale(y="independent")
    )


def _tools_chart(tools: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(tools)
        .mark_bar(color="#2F5BEA")
        .encode(
            x=alt.X("credits:Q", title="Credits charged"),
            y=alt.Y("label:N", sort="-x", title=None, axis=alt.Axis(labelLimit=220)),
            tooltip=[
                alt.Tooltip("label:N", title="Tool"),
                alt.Tooltip("credits:Q", title="Credits", format=","),
                alt.Tooltip("uses:Q", title="Uses", format=","),
            ],
        )
        .properties(height=300)
    )


def _balance_chart(bal: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(bal)
        .mark_bar()
        .encode(
            x=alt.X("total:Q", bin=alt.Bin(maxbins=15), title="Balance (credits)"),
            y=alt.Y("count():Q", title="Users"),
            color=alt.Color("plan:N", title="Plan"),
            tooltip=[alt.Tooltip("count():Q", title="Users"), alt.Tooltip("plan:N", title="Plan")],
        )
        .properties(height=300)
    )


def _metrics(totals: pd.DataFrame) -> None:
    by_kind = totals.groupby("kind")["credits"].sum()

    def get(*kinds: str) -> int:
        return int(sum(by_kind.get(k, 0) for k in kinds))

    cols = st.columns(5)
    cols[0].metric("Ledger rows", f"{int(totals['rows'].sum()):,}", border=True)
    cols[1].metric("Credits debited", f"{-get('debit'):,}", border=True)
    cols[2].metric(
        "Credits granted", f"{get('grant', 'upgrade'):,}", border=True, help="Monthly grants + upgrade grants"
    )
    cols[3].metric("Credits topped up", f"{get('topup'):,}", border=True)
    cols[4].metric("Trimmed / refunded", f"{-get('trim'):,} / {get('refund'):,}", border=True)


def _gate(ui: UiSession) -> Scope | None:
    """Who may see what (see module docstring)."""
    if not ui.is_demo:
        if can_view_ops(ui):
            return choose_scope(ui, key="cz_ops")
        st.warning(
            "**Admins only.** The Ops ledger shows every user's credits. Ask to be added to `CZ_ADMIN_USERS`, "
            "or type the admin secret.",
            icon=":material/admin_panel_settings:",
        )
        unlock_form("cz_ops_unlock")
        return None
    if not secret_unlocked():
        st.info(
            "**DEMO** — you are looking at this DEMO session's own ledger. Ops staff see every user's ledger "
            "after signing in as an admin or typing the admin secret.",
            icon=":material/science:",
        )
        with st.expander("Admin access", icon=":material/key:"):
            unlock_form("cz_ops_unlock")
        return choose_scope(ui, key="cz_ops")
    with st.expander("Admin access", icon=":material/key:"):
        unlock_form("cz_ops_unlock")
    return choose_scope(ui, key="cz_ops")


def _date_range(first: date, last: date) -> tuple[date | None, date | None]:
    picked = st.date_input(
        "Dates (UTC)", value=(first, last), min_value=first, max_value=last, key=f"cz_ops_dates_{first}_{last}"
    )
    if isinstance(picked, tuple | list):
        since = picked[0] if len(picked) > 0 else None
        until = picked[1] if len(picked) > 1 else since
        return since, until
    return picked, picked


def _holds(service, user: str | None) -> None:
    """Active and expired holds (and how the recent ones ended)."""
    holds, err = capture(service.holds, user)
    if holds is None:
        show_error(err)  # type: ignore[arg-type]
        return
    live = holds[holds["status"].isin(["active", "expired"])] if not holds.empty else holds
    with st.expander(f"Holds · {int((holds['status'] == 'active').sum()) if not holds.empty else 0} active", icon=":material/lock_clock:"):
        if holds.empty:
            st.caption("No holds.")
            return
        st.caption(f"{len(live):,} active or expired · {len(holds):,} recent holds in all (expired ones count as released)")
        st.dataframe(holds, hide_index=True, key="cz_ops_holds")


def render() -> None:
    """The Ops ledger page."""
    page_header("Ops ledger", "Every credit movement: daily totals, top tools, balances and any user's ledger.")
    ui = page_session()
    if ui is None:
        return
    scope = _gate(ui)
    if scope is None:
        return
    service = scope.service
    source, rev = _source(scope, ui)
    st.caption(
        f"Showing: **{scope.label}**"
        + (" · DEMO" if scope.is_demo else "")
        + f" · registry v{service.registry.version}"
    )

    everything, err = capture(ops_data.daily_totals, service, source, rev, None, (), None, None)
    bal, err2 = capture(ops_data.balances, service, source, rev)
    if everything is None or bal is None:
        show_error(err or err2)  # type: ignore[arg-type]
        return
    if everything.empty:
        st.info("The ledger is empty so far." + (" Ask AI or buy a pack to see rows here." if scope.is_demo else ""))
        return

    outstanding, err = capture(ops_data.outstanding, service, source, rev)
    if outstanding is None:
        show_error(err)  # type: ignore[arg-type]
        return
    outstanding_overview(outstanding)
    st.divider()

    first, last = everything["day"].min().date(), everything["day"].max().date()
    f1, f2, f3, f4 = st.columns([2, 2, 3, 1], vertical_alignment="bottom")
    with f1:
        since, until = _date_range(first, last)
    users = sorted(bal["userId"].tolist())
    user_choice = f2.selectbox("User", [ALL_USERS, *users], key="cz_ops_user")
    user = None if user_choice == ALL_USERS else user_choice
    kinds = tuple(f3.multiselect("Kinds", list(KINDS), key="cz_ops_kinds", placeholder="All kinds"))
    if f4.button("Refresh", icon=":material/refresh:", width="stretch", help="Read the ledger again"):
        st.session_state[_REFRESH] = st.session_state.get(_REFRESH, 0) + 1
        st.rerun()

    totals, err = capture(ops_data.daily_totals, service, source, rev, user, kinds, since, until)
    if totals is None:
        show_error(err)  # type: ignore[arg-type]
        return
    _metrics(totals)

    c1, c2 = st.columns([3, 2], gap="large")
    with c1:
        head, pick = st.columns([3, 2], vertical_alignment="bottom")
        head.subheader("Daily movements by kind", anchor=False)
        measure = pick.segmented_control(
            "Measure",
            ["credits", "rows"],
            default="credits",
            required=True,
            key="cz_ops_measure",
            label_visibility="collapsed",
        )
        if totals.empty:
            st.caption("No rows match the filters.")
        else:
            st.altair_chart(_daily_chart(totals, measure or "credits"))
    with c2:
        st.subheader("Top tools", anchor=False)
        tools, err = capture(ops_data.top_tools, service, source, rev, user, since, until)
        if tools is None:
            show_error(err)  # type: ignore[arg-type]
        elif tools.empty:
            st.caption("No debits in this range.")
        else:
            st.altair_chart(_tools_chart(tools), width="stretch")

    c3, c4 = st.columns([2, 3], gap="large")
    with c3:
        st.subheader("Balance distribution", anchor=False)
        st.altair_chart(_balance_chart(bal), width="stretch")
        st.caption(f"{len(bal):,} account(s) · median balance {int(bal['total'].median()):,} credits")
    with c4:
        st.subheader("Ledger rows" if user is None else f"Ledger of {user}", anchor=False)
        if user is not None:
            me = bal[bal["userId"] == user]
            if not me.empty:
                r = me.iloc[0]
                st.caption(
                    f"Plan **{r['plan']}** · balance **{int(r['total']):,}** "
                    f"(included {int(r['included']):,} + purchased {int(r['purchased']):,})"
                )
        limit = st.select_slider("Rows shown (newest first)", [50, 200, 1000], value=200, key="cz_ops_limit")
        rows, err = capture(ops_data.ledger_rows, service, source, rev, user, kinds, since, until, int(limit))
        if rows is None:
            show_error(err)  # type: ignore[arg-type]
            return
        st.dataframe(
            rows,
            hide_index=True,
            height=320,
            column_config={
                "createdAt": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm"),
                "userId": "User",
                "kind": "Kind",
                "delta": st.column_config.NumberColumn("Credits", format="%d"),
                "bucket": "Bucket",
                "tool": "Tool",
                "name": st.column_config.TextColumn("Row name", width="medium"),
            },
            key="cz_ops_rows",
        )
        _holds(service, user)
        e1, e2 = st.columns(2)
        stamp = f"{since or first}_{until or last}"
        with e1:
            export_button(rows, f"ledger-rows_{stamp}.csv", label="Export rows (CSV)", key="cz_ops_export_rows")
        with e2:
            export_button(
                totals, f"daily-totals_{stamp}.csv", label="Export daily totals (CSV)", key="cz_ops_export_totals"
            )
        chain_export(service, ledger=source)
    st.divider()
    if scope.is_demo:
        st.caption("Reconciliation with Stripe runs on the server ledger: admins only.")
    else:
        reconciliation_panel(service)


run_page(render)
