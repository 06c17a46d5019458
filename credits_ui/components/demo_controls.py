"""Sidebar controls that put a DEMO session into any credit state on purpose.

Reset, pick a plan, enforce vs warn-only, jump to next month (shows the
monthly grant and the soft cap at work) and spend down to an empty balance.
Everything goes through the session's own ``CreditsService``; nothing here
computes a credit rule.
"""

from __future__ import annotations

import uuid

import streamlit as st

from .. import flash
from ..session import UiSession
from ..session.demo import reset_demo
from .errors import attempt

ENFORCE_KEY = "cz_demo_enforce"


def _month_summary(ui: UiSession) -> str | None:
    """What the rollover into the new month wrote, read back from the ledger tail."""
    state = attempt(ui.service.state, ui.user_id, tail=20)
    if state is None:
        return None
    rows = [r for r in state.ledger_tail if r.meta.get("month") == state.month and r.kind in ("grant", "trim")]
    granted = sum(r.delta for r in rows if r.kind == "grant")
    trimmed = -sum(r.delta for r in rows if r.kind == "trim")
    included, cap = state.balance.included, state.soft_cap
    text = f"Now in **{state.month}**: monthly grant **+{granted:,}** included credits"
    if granted < state.monthly_included or trimmed:
        text += f" — capped by the soft cap of **{cap:,}**"
        if trimmed:
            text += f" (trimmed {trimmed:,})"
    text += f". Included balance: **{included:,} / {cap:,}**."
    return text


def demo_controls(ui: UiSession) -> None:
    """Draw the DEMO controls (call inside ``st.sidebar`` before the page runs)."""
    service = ui.service
    st.session_state.setdefault(ENFORCE_KEY, service.enforce)
    service.enforce = st.toggle(
        "Enforce credits",
        key=ENFORCE_KEY,
        help="On: an action the balance cannot cover is blocked (CZ_CREDITS_ENFORCE=1). "
        "Off: warn-only — the action runs, nothing is charged and a warning is shown.",
    )
    state = attempt(service.state, ui.user_id, tail=0)
    if state is None:
        return
    plans = list(service.registry.plans)
    ids = [p.id for p in plans]
    labels = {p.id: f"{p.label} · {p.monthly_included:,}/mo" for p in plans}
    choice = st.selectbox(
        "Plan",
        ids,
        index=ids.index(state.plan) if state.plan in ids else 0,
        format_func=labels.get,
        key=f"cz_demo_plan_{state.plan}",
        help="Switches plan at once (trim to the new soft cap, upgrade grant). "
        "The Account page shows a preview before confirming.",
    )
    if choice != state.plan:
        change = attempt(service.change_plan, ui.user_id, choice, request_id=f"demo-{uuid.uuid4().hex}")
        if change is not None:
            flash.push_and_rerun(
                "success",
                f"Plan is now **{labels[choice].split(' · ')[0]}**: granted +{change.granted:,}, "
                f"trimmed −{change.trimmed:,}, balance {change.balance.total:,}.",
            )
    st.caption(f"Demo month: **{state.month}** · user `{ui.user_id}`")
    if st.button(
        "Next month",
        icon=":material/event_upcoming:",
        help="Advance the demo clock one month: the monthly grant, capped by the soft cap",
        width="stretch",
    ):
        service.clock.advance_month()  # the DEMO service always has an OffsetClock
        summary = _month_summary(ui)
        if summary:
            flash.push_and_rerun("info", summary)
    if st.button("Spend down", icon=":material/trending_down:", help="Empty the balance at once", width="stretch"):
        _spend_down(ui)
    if st.button("Reset demo", icon=":material/restart_alt:", help="Start over as a new visitor", width="stretch"):
        reset_demo()
        flash.push_and_rerun("info", "DEMO reset: a fresh visitor on the Base plan.")


def _spend_down(ui: UiSession) -> None:
    state = attempt(ui.service.state, ui.user_id, tail=0)
    if state is None:
        return
    key = f"demo-spend-{uuid.uuid4().hex[:12]}"
    for bucket, amount in (("included", state.balance.included), ("purchased", state.balance.purchased)):
        if (
            amount
            and attempt(ui.service.adjust, ui.user_id, f"{key}-{bucket}", -amount, bucket, "DEMO spend-down") is None
        ):
            return
    flash.push_and_rerun("info", "Balance spent down to **0** (DEMO adjustment rows).")
