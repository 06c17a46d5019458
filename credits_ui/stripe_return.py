"""Stripe's redirect back to a page (``?<param>=success&session_id=…`` or ``cancel``), read once."""

from __future__ import annotations

import streamlit as st

from . import flash


def stripe_return(param: str, cancelled: str) -> str | None:
    """The session id of a successful return, else ``None``; the query parameters are removed.

    A cancelled return flashes ``cancelled`` (and reruns the page).
    """
    status = st.query_params.get(param)
    if not status:
        return None
    session_id = st.query_params.get("session_id", "")
    for name in (param, "session_id"):
        st.query_params.pop(name, None)
    if status == "cancel":
        flash.push_and_rerun("info", cancelled)
    return session_id if status == "success" and session_id else None
