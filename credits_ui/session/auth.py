"""Sign-in: who the visitor is, from Streamlit's own OIDC login (``st.login``).

``[auth]`` in ``.streamlit/secrets.toml`` turns it on; without it every
visitor is anonymous (DEMO mode, :mod:`credits_ui.session.demo`).

Docs relied on: ``st.user`` / ``st.login`` / ``st.logout``
(https://docs.streamlit.io/develop/api-reference/user) — ``st.user`` only has
``is_logged_in`` when an ``[auth]`` section exists, so it is read with
``.get``; ``AppTest.user`` seeds ``st.user`` in tests (streamlit 1.67
``streamlit/testing/v1/app_test.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st


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


def claim(name: str) -> str | None:
    """One claim of the signed-in visitor's identity (``sub``, ``email``, ``name``), if present."""
    try:
        value = st.user.get(name)
    except Exception:
        return None
    return str(value) if value else None
