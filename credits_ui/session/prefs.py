"""Per-session UI preferences that are neither sign-in, DEMO nor admin: Ask AI's pacing."""

from __future__ import annotations

import os

import streamlit as st

THINK_SECONDS_KEY = "cz_think_seconds"
THINK_SECONDS_ENV = "CZ_UI_THINK_SECONDS"
DEFAULT_THINK_SECONDS = 0.6


def think_seconds() -> float:
    """How long Ask AI 'thinks' (session flag, then ``CZ_UI_THINK_SECONDS``, then 0.6 s)."""
    raw = st.session_state.get(THINK_SECONDS_KEY, os.environ.get(THINK_SECONDS_ENV))
    try:
        return max(0.0, min(10.0, float(raw)))
    except (TypeError, ValueError):
        return DEFAULT_THINK_SECONDS
