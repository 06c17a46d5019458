"""Which service and user this browser session uses: DEMO or server mode.

* **Server mode** — the visitor is signed in through Streamlit's own OIDC
  login (``st.login``; ``[auth]`` in ``.streamlit/secrets.toml``). Every page
  uses the process-wide :func:`credits_core.runtime.shared_service` (the same
  object the HTTP API under ``/api`` uses) and the user id is the OIDC
  ``sub`` claim (falling back to the e-mail address).
* **DEMO mode** — not signed in. Each Streamlit session gets its own
  ``CreditsService`` on a :class:`~credits_core.MemoryStore`, an in-memory
  registry and an :class:`~credits_core.OffsetClock` (so the demo can jump to
  the next month), kept in ``st.session_state``. Nothing leaves the session.

Docs relied on: ``st.user`` / ``st.login`` / ``st.logout``
(https://docs.streamlit.io/develop/api-reference/user) — ``st.user`` only has
``is_logged_in`` when an ``[auth]`` section exists, so it is read with
``.get``; ``AppTest.user`` seeds ``st.user`` in tests (streamlit 1.67
``streamlit/testing/v1/app_test.py``).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from credits_core import Clock, CreditsService, MemoryStore, OffsetClock
from credits_core.access import is_admin_user, secret_matches
from credits_core.errors import ConfigError, CreditsError
from credits_core.registry import MemoryRegistryRepository
from credits_core.runtime import shared_service, shared_settings

DEMO = "demo"
SERVER = "server"

_DEMO_SERVICE = "cz_demo_service"
_DEMO_USER = "cz_demo_user"
_ADMIN_UNLOCKED = "cz_admin_unlocked"
THINK_SECONDS_KEY = "cz_think_seconds"
THINK_SECONDS_ENV = "CZ_UI_THINK_SECONDS"
DEFAULT_THINK_SECONDS = 0.6
DEMO_ENFORCE_DEFAULT = True


@dataclass(frozen=True)
class UiSession:
    """The service and user behind the current browser session."""

    mode: str  # DEMO or SERVER
    service: CreditsService
    user_id: str
    name: str
    email: str | None = None

    @property
    def is_demo(self) -> bool:
        """True in DEMO mode (session-local memory ledger)."""
        return self.mode == DEMO


# -- authentication ---------------------------------------------------------------


def auth_section() -> Mapping[str, Any]:
    """The ``[auth]`` section of ``secrets.toml`` (empty when not configured)."""
    try:
        section = st.secrets.get("auth")
    except Exception:  # no secrets.toml at all, or an unreadable one
        return {}
    return section if isinstance(section, Mapping) else {}


def auth_configured() -> bool:
    """True when ``st.login`` can work (an ``[auth]`` section exists)."""
    return bool(auth_section())


def auth_providers() -> list[str | None]:
    """Providers to offer: ``None`` for a flat ``[auth]``, else each ``[auth.<name>]``."""
    section = auth_section()
    named = [name for name, value in section.items() if isinstance(value, Mapping)]
    if "client_id" in section or not named:
        return [None]
    return named


def signed_in() -> bool:
    """True when Streamlit's OIDC login has identified the visitor."""
    try:
        return bool(st.user.get("is_logged_in", False))
    except Exception:
        return False


def _claim(name: str) -> str | None:
    try:
        value = st.user.get(name)
    except Exception:
        return None
    return str(value) if value else None


# -- the session --------------------------------------------------------------------


def current() -> UiSession:
    """This browser session's service and user.

    Raises ``CreditsError`` (``ConfigError`` naming the variable, or
    ``LedgerUnavailable``) when server mode cannot open its store.
    """
    if signed_in():
        user_id = _claim("sub") or _claim("email")
        if not user_id:
            raise ConfigError("the identity provider returned neither 'sub' nor 'email' for this user")
        name = _claim("name") or _claim("email") or user_id
        return UiSession(SERVER, shared_service(), user_id, name, _claim("email"))
    return UiSession(DEMO, demo_service(), demo_user_id(), "DEMO visitor")


def demo_user_id() -> str:
    """``demo-<short session id>``, stable for the life of the Streamlit session."""
    if _DEMO_USER not in st.session_state:
        st.session_state[_DEMO_USER] = f"demo-{uuid.uuid4().hex[:8]}"
    return st.session_state[_DEMO_USER]


def demo_service() -> CreditsService:
    """This session's DEMO service (created on first use)."""
    if _DEMO_SERVICE not in st.session_state:
        st.session_state[_DEMO_SERVICE] = new_demo_service()
    return st.session_state[_DEMO_SERVICE]


def new_demo_service(*, enforce: bool = DEMO_ENFORCE_DEFAULT) -> CreditsService:
    """A fresh DEMO service: memory ledger, memory registry, month-shiftable clock."""
    return CreditsService(
        MemoryStore(),
        MemoryRegistryRepository(_tenant()),
        enforce=enforce,
        clock=OffsetClock(_base_clock()),
        account_url="/account#credits",
    )


def reset_demo() -> None:
    """Forget this session's DEMO ledger (a new visitor's state)."""
    old = st.session_state.get(_DEMO_SERVICE)
    enforce = old.enforce if old is not None else DEMO_ENFORCE_DEFAULT
    st.session_state[_DEMO_SERVICE] = new_demo_service(enforce=enforce)
    st.session_state.pop(_DEMO_USER, None)


def _base_clock() -> Clock | None:
    """The configured clock (``CZ_CLOCK`` freezes it), or the system's when settings are unusable."""
    with contextlib.suppress(CreditsError):
        return shared_settings().clock()
    return None


def _tenant() -> str:
    with contextlib.suppress(CreditsError):
        return shared_settings().tenant
    return "cityzeen"


def think_seconds() -> float:
    """How long Ask AI 'thinks' (session flag, then ``CZ_UI_THINK_SECONDS``, then 0.6 s)."""
    raw = st.session_state.get(THINK_SECONDS_KEY, os.environ.get(THINK_SECONDS_ENV))
    try:
        return max(0.0, min(10.0, float(raw)))
    except (TypeError, ValueError):
        return DEFAULT_THINK_SECONDS


# -- admin ----------------------------------------------------------------------------


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
