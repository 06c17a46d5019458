"""The plan selector of the Account page (DEMO switching and server-mode subscriptions alike)."""

from __future__ import annotations

import streamlit as st

from credits_core.models import CreditsState
from credits_core.registry import Plan

from ..fmt import money


def plan_picker(plans: list[Plan], state: CreditsState) -> str:
    """A select box of ``plans`` (price, monthly credits, the current one marked); the chosen plan id."""
    ids = [p.id for p in plans]
    by_id = {p.id: p for p in plans}

    def label(plan_id: str) -> str:
        p = by_id[plan_id]
        mine = " (current)" if plan_id == state.plan else ""
        return f"{p.label} — {money(p.monthly_price, p.currency)}/mo · {p.monthly_included:,} credits/mo{mine}"

    return st.selectbox(
        "Choose a plan",
        ids,
        index=ids.index(state.plan) if state.plan in ids else 0,
        format_func=label,
        key=f"cz_plan_choice_{state.plan}",
    )
