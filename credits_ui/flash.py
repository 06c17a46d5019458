"""One-shot messages that survive the ``st.rerun()`` after a change.

A page that changes the ledger pushes what happened and reruns, so every
number on screen (the header chip included) is read after the change; the
message is shown once at the top of the next run.
"""

from __future__ import annotations

import streamlit as st

_KEY = "cz_flash"
_RENDERERS = {"success": st.success, "info": st.info, "warning": st.warning, "error": st.error}
_ICONS = {
    "success": ":material/check_circle:",
    "info": ":material/info:",
    "warning": ":material/warning:",
    "error": ":material/error:",
}


def push(level: str, text: str) -> None:
    """Queue ``text`` (``success`` / ``info`` / ``warning`` / ``error``) for the next run."""
    st.session_state.setdefault(_KEY, []).append((level, text))


def render() -> None:
    """Show and clear the queued messages."""
    for level, text in st.session_state.pop(_KEY, []):
        _RENDERERS.get(level, st.info)(text, icon=_ICONS.get(level))


def push_and_rerun(level: str, text: str) -> None:
    """Queue a message and rerun the app so everything is redrawn from the ledger."""
    push(level, text)
    st.rerun()
