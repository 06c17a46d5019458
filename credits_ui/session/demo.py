"""The DEMO session factory: an anonymous visitor's own, session-local ledger.

Each Streamlit session gets its own ``CreditsService`` on a
:class:`~credits_core.MemoryStore`, an in-memory registry and an
:class:`~credits_core.OffsetClock` (so the demo can jump to the next month),
kept in ``st.session_state``. Nothing leaves the session.
"""

from __future__ import annotations

import contextlib
import uuid

import streamlit as st

from credits_core import Clock, CreditsService, MemoryStore, OffsetClock
from credits_core.errors import CreditsError
from credits_core.registry import MemoryRegistryRepository
from credits_core.runtime import shared_settings

_DEMO_SERVICE = "cz_demo_service"
_DEMO_USER = "cz_demo_user"
DEMO_ENFORCE_DEFAULT = True


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
