"""Admin gate shared by Ops ledger and Registry admin.

An admin is a signed-in user listed in ``CZ_ADMIN_USERS`` (id or e-mail),
or anyone who types the ``CZ_REGISTRY_ADMIN_SECRET`` (compared in constant
time, remembered for the browser session). In DEMO mode a visitor who types
the secret may switch the admin pages to the server ledger; otherwise they
act on the DEMO session's own ledger and registry.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from credits_core import CreditsService
from credits_core.runtime import shared_service

from ..session import UiSession
from ..session.admin import admin_secret, lock, secret_unlocked, try_unlock
from .errors import capture, show_error

SERVER_LABEL = "Server ledger"
DEMO_LABEL = "This DEMO session"


@dataclass(frozen=True)
class Scope:
    """Which service an admin page acts on, and how to label it."""

    service: CreditsService
    is_demo: bool
    label: str


def unlock_form(key: str) -> None:
    """A password field for the admin secret, with Unlock / Lock."""
    if secret_unlocked():
        c1, c2 = st.columns([3, 1], vertical_alignment="center")
        c1.success("Admin secret accepted for this browser session.", icon=":material/lock_open:")
        if c2.button("Lock", key=f"{key}_lock", icon=":material/lock:"):
            lock()
            st.rerun()
        return
    if admin_secret() is None:
        st.info(
            "The admin secret is not set on this server (`CZ_REGISTRY_ADMIN_SECRET`), so it cannot unlock anything.",
            icon=":material/key_off:",
        )
        return
    with st.form(f"{key}_form", border=False):
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        typed = c1.text_input(
            "Admin secret", type="password", key=f"{key}_secret", placeholder="CZ_REGISTRY_ADMIN_SECRET"
        )
        submitted = c2.form_submit_button("Unlock", icon=":material/key:", width="stretch")
    if submitted:
        if try_unlock(typed):
            st.rerun()
        st.error("That secret is not right.", icon=":material/lock:")


def choose_scope(ui: UiSession, *, key: str) -> Scope | None:
    """The service an admin page shows: DEMO session, or the server once allowed.

    ``None`` (after showing why) when the server ledger cannot be opened.
    """
    if not ui.is_demo:
        return Scope(ui.service, False, SERVER_LABEL)
    if not secret_unlocked():
        return Scope(ui.service, True, DEMO_LABEL)
    source = st.segmented_control(
        "Ledger", [SERVER_LABEL, DEMO_LABEL], default=SERVER_LABEL, required=True, key=f"{key}_scope"
    )
    if source == DEMO_LABEL:
        return Scope(ui.service, True, DEMO_LABEL)
    service, err = capture(shared_service)
    if service is None:
        show_error(err)  # type: ignore[arg-type]
        return None
    return Scope(service, False, SERVER_LABEL)
