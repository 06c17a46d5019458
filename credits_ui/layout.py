"""Page scaffolding every page uses: its session and a consistent header."""

from __future__ import annotations

import streamlit as st

from .components.errors import capture, show_error
from .session import UiSession, current


def page_session() -> UiSession | None:
    """This browser session's service and user, or ``None`` after a friendly error."""
    ui, err = capture(current)
    if ui is None:
        show_error(err)  # type: ignore[arg-type]
    return ui


def page_header(title: str, caption: str, *, icon: str | None = None) -> None:
    """Title and one line of copy, the same on every page."""
    st.title(title, anchor=False, icon=icon)
    st.caption(caption)
