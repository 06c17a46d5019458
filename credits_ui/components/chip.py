"""The header chip: balance, link to the Account credits block, plan tooltip.

In server mode the chip is a fragment that reruns on its own every 5 s
(``st.fragment(run_every="5s")``,
https://docs.streamlit.io/develop/api-reference/execution-flow/st.fragment),
so a second tab — or a debit made through the HTTP API — shows up without a
reload: the Streamlit analogue of the seed's ``pageshow`` refetch.

The link is an in-app ``st.page_link`` rather than a plain ``href`` so that a
DEMO visitor keeps their session (a full page load would start a new one);
the Account page's credits block carries the anchor ``credits``, so the
``/account#credits`` URL the API hands out lands on the same place.
"""

from __future__ import annotations

import streamlit as st

from credits_core.insights import Runway
from credits_core.models import CreditsState
from credits_core.text import credits_text

from .. import nav
from ..session import UiSession
from .errors import capture

REFRESH_EVERY = "5s"


def attempt_quietly(fn, *args):
    """``fn(*args)``, or ``None`` when it fails (the runway is a nicety, never an error on the chip)."""
    value, _ = capture(fn, *args)
    return value


def chip_label(state: CreditsState, *, demo: bool) -> str:
    """``1,234 credits`` (+ `` · DEMO``); with active holds the available credits and `` · 8 held``."""
    held = state.balance.total - state.available if state.holds and state.available is not None else 0
    label = credits_text(state.balance.total - held) + (f" · {held:,} held" if held else "")
    return f"{label} · DEMO" if demo else label


def chip_tooltip(state: CreditsState, plan_label: str, runway: Runway | None = None) -> str:
    """Plan, soft cap, included and purchased credits, runway when known (markdown for ``help=``)."""
    pace = f"**Runway:** {runway.text()}  \n" if runway is not None else ""
    return (
        f"**Plan:** {plan_label}  \n"
        f"**Monthly included:** {state.monthly_included:,} credits  \n"
        f"**Soft cap (included):** {state.soft_cap:,} credits  \n"
        f"**Included:** {state.balance.included:,} · **Purchased:** {state.balance.purchased:,}  \n"
        f"**Available:** {state.balance.total if state.available is None else state.available:,} "
        f"(balance minus active holds)  \n"
        f"{pace}"
        f"Open the Account page for the details."
    )


def _chip_body(session: UiSession) -> None:
    state, err = capture(session.service.state, session.user_id, tail=0)
    with st.container(horizontal=True, vertical_alignment="center", horizontal_alignment="right", key="cz_chip"):
        if state is None:
            reason = "ledger unavailable" if getattr(err, "code", "") == "ledger_unavailable" else "balance unavailable"
            st.badge(reason, icon=":material/cloud_off:", color="gray")
            return
        try:
            plan_label = session.service.registry.plan(state.plan).label
        except Exception:
            plan_label = state.plan
        st.page_link(
            nav.ACCOUNT.path,
            label=chip_label(state, demo=session.is_demo),
            icon=":material/toll:",
            help=chip_tooltip(state, plan_label, attempt_quietly(session.service.runway, session.user_id)),
        )


def header_chip(session: UiSession) -> None:
    """Draw the chip; in server mode it refreshes itself every few seconds."""
    if session.is_demo:
        _chip_body(session)
    else:
        st.fragment(run_every=REFRESH_EVERY)(_chip_body)(session)
