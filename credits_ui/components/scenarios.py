"""The DEMO "Scenarios" menu, "Copy link to this state", and opening such a link.

The credit work is ``credits_core.scenarios`` (service verbs on the DEMO
memory store; a validated link codec). This module only lays out the menu,
keeps the session flags (scenario id, a payment set to fail) and turns a
link's query parameters into a fresh DEMO session — or, for a bad link, a
clear notice and a fresh DEMO.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import streamlit as st

from credits_core import scenarios
from credits_core.errors import CreditsError

from .. import flash, nav
from ..session import UiSession
from ..session.auth import signed_in
from ..session.demo import DEMO_ENFORCE_DEFAULT, demo_service, demo_user_id, reset_demo
from .demo_controls import ENFORCE_KEY

SCENARIO_KEY = "cz_demo_scenario"
FAIL_KEY = "cz_demo_payment_fails"


def _start(applied: scenarios.Applied) -> None:
    st.session_state[SCENARIO_KEY] = applied.state.scenario
    st.session_state[ENFORCE_KEY] = applied.state.enforce
    if applied.fail_next_payment:
        st.session_state[FAIL_KEY] = True
    else:
        st.session_state.pop(FAIL_KEY, None)


def _apply(scenario: str, plan: str) -> None:
    """Button callback: a fresh DEMO visitor put into ``scenario`` (runs before the next script run)."""
    enforce = bool(st.session_state.get(ENFORCE_KEY, DEMO_ENFORCE_DEFAULT))
    reset_demo()
    service, user = demo_service(), demo_user_id()
    service.enforce = enforce
    try:
        applied = scenarios.apply(service, user, scenario, plan=plan)
    except CreditsError as exc:
        flash.push("error", f"Could not set up that scenario: {exc}")
        return
    _start(applied)
    label = scenarios.SCENARIOS[scenario][0]
    flash.push("info", f"Scenario **{label}**: {applied.note}")


def scenario_menu(ui: UiSession) -> None:
    """One button per scenario, and the link to the current state."""
    try:
        plan = ui.service.state(ui.user_id, tail=0).plan
    except CreditsError:
        return
    with st.popover("Scenarios", icon=":material/theater_comedy:", width="stretch"):
        st.caption("Put this DEMO account into a credit state in one click (a fresh DEMO ledger).")
        for sid, (label, what) in scenarios.SCENARIOS.items():
            st.button(label, key=f"cz_scn_{sid}", help=what, on_click=_apply, args=(sid, plan), width="stretch")
    with st.popover("Copy link to this state", icon=":material/link:", width="stretch"):
        url = state_link(ui)
        if url:
            st.caption("Opens this DEMO state (plan, balance, month, enforcement, scenario) in any browser.")
            st.code(url, language=None, wrap_lines=True)


def state_link(ui: UiSession) -> str | None:
    """An absolute (when the host is known) link that rebuilds the current DEMO state."""
    try:
        state = scenarios.current_state(ui.service, ui.user_id, st.session_state.get(SCENARIO_KEY, scenarios.CUSTOM))
    except CreditsError:
        return None
    query = urlencode(scenarios.encode(state))
    path = f"/{nav.ACCOUNT.url_path}?{query}"
    try:
        here = urlsplit(st.context.url or "")
    except Exception:
        return path
    return f"{here.scheme}://{here.netloc}{path}" if here.scheme and here.netloc else path


def open_link() -> None:
    """If the URL carries a scenario link, rebuild it as a fresh DEMO (call before the session is read)."""
    if "scenario" not in st.query_params:
        return
    params = {k: st.query_params.get_all(k) for k in st.query_params}
    for key in params:
        st.query_params.pop(key, None)
    if signed_in():
        flash.push("warning", "Scenario links open DEMO states; sign out to open one. Your account was not changed.")
        return
    reset_demo()
    service, user = demo_service(), demo_user_id()
    try:
        state = scenarios.decode(params, service)
        applied = scenarios.rebuild(service, user, state)
    except CreditsError as exc:
        reset_demo()
        flash.push("error", f"This scenario link could not be opened ({exc}). Here is a fresh DEMO instead.")
        return
    _start(applied)
    label = scenarios.SCENARIOS.get(state.scenario, ("Custom state", ""))[0]
    flash.push("info", f"Opened a DEMO scenario link: **{label}** · {state.plan} · {state.month}.")
