"""The admin gate of the pages: asks :mod:`credits_core.access` and remembers a typed-in secret.

Who is an admin is decided in one place for the API and the pages
(``credits_core.access``: ``CZ_ADMIN_USERS``, or the
``CZ_REGISTRY_ADMIN_SECRET`` compared in constant time). This module only
supplies the browser session's side: the signed-in identity, and whether the
secret was typed in correctly in this session.
"""

from __future__ import annotations

import streamlit as st

from credits_core.access import is_admin_user, secret_matches
from credits_core.errors import CreditsError
from credits_core.runtime import shared_settings

from . import UiSession

_ADMIN_UNLOCKED = "cz_admin_unlocked"


def admin_secret() -> str | None:
    """``CZ_REGISTRY_ADMIN_SECRET`` of the server (``None`` when unset or misconfigured)."""
    try:
        return shared_settings().registry_admin_secret
    except CreditsError:
        return None


def is_admin_identity(session: UiSession) -> bool:
    """A signed-in user listed in ``CZ_ADMIN_USERS`` (by id or e-mail)."""
    if session.is_demo:
        return False
    try:
        return is_admin_user(shared_settings(), session.user_id, session.email)
    except CreditsError:
        return False


def secret_unlocked() -> bool:
    """True once the admin secret was typed in correctly in this session."""
    return bool(st.session_state.get(_ADMIN_UNLOCKED))


def try_unlock(typed: str) -> bool:
    """Compare ``typed`` with the admin secret in constant time; remember success."""
    try:
        ok = secret_matches(shared_settings(), typed)
    except CreditsError:
        ok = False
    st.session_state[_ADMIN_UNLOCKED] = ok
    return ok


def lock() -> None:
    """Forget a typed-in admin secret."""
    st.session_state[_ADMIN_UNLOCKED] = False


def can_view_ops(session: UiSession) -> bool:
    """Ops may read every user's ledger: admin identity or admin secret."""
    return is_admin_identity(session) or secret_unlocked()
