"""Per-session UI preferences that are neither sign-in, DEMO nor admin: Ask AI's pacing."""

from __future__ import annotations

import streamlit as st

from credits_core.runtime import shared_settings

THINK_SECONDS_KEY = "cz_think_seconds"


def think_seconds() -> float:
    """How long Ask AI 'thinks': the session's flag, else ``CZ_UI_THINK_SECONDS`` (Settings, 0.6 s by default)."""
    raw = st.session_state.get(THINK_SECONDS_KEY)
    try:
        return max(0.0, min(10.0, float(raw)))
    except (TypeError, ValueError):
        return shared_settings().ui_think_seconds
