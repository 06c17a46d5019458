"""Engine errors → friendly messages, in one place; never a traceback on screen.

Pages call :func:`attempt` around every ``credits_core`` call. A
``CreditsError`` is shown by meaning (its stable ``code``); anything else is
logged and shown as a short generic message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from credits_core.errors import CreditsError

from .insufficient import insufficient_credits_block, plan_required_block

T = TypeVar("T")
log = logging.getLogger("credits_ui")

LEDGER_UNAVAILABLE = "The ledger is unavailable right now — nothing was changed. Please try again in a moment."
UNEXPECTED = "Something went wrong on our side and nothing was changed. Please try again."


def friendly_message(exc: BaseException) -> str:
    """The sentence shown to a person for ``exc`` (no stack trace, no secrets)."""
    if not isinstance(exc, CreditsError):
        return UNEXPECTED
    code = exc.code
    if code == "ledger_unavailable":
        return LEDGER_UNAVAILABLE
    if code == "config_error":
        return f"Server configuration problem: {exc.message}"
    if code == "payments_disabled":
        return "Payments are not configured on this server."
    if code == "registry_invalid":
        problems = exc.details.get("problems") or []
        return f"The registry was rejected: {len(problems)} problem(s)."
    return exc.message


def show_error(exc: BaseException) -> None:
    """Render ``exc`` the way a person should see it."""
    if not isinstance(exc, CreditsError):
        log.exception("unexpected error in the credits UI", exc_info=exc)
        st.error(UNEXPECTED, icon=":material/error:")
        return
    code = exc.code
    if code == "insufficient_credits":
        insufficient_credits_block(exc)
    elif code == "plan_required":
        plan_required_block(exc)
    elif code == "ledger_unavailable":
        st.warning(LEDGER_UNAVAILABLE, icon=":material/cloud_off:")
    elif code == "registry_invalid":
        problems = exc.details.get("problems") or []
        st.error(friendly_message(exc) + "\n\n" + "\n".join(f"- {p}" for p in problems), icon=":material/rule:")
    elif code in ("payments_disabled", "checkout_not_paid", "registry_version_conflict", "idempotency_conflict"):
        st.warning(friendly_message(exc), icon=":material/warning:")
    else:
        st.error(friendly_message(exc), icon=":material/error:")


def attempt(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """``fn(*args, **kwargs)``, or ``None`` after showing a friendly error."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # every failure becomes a message, never a traceback
        show_error(exc)
        return None


def capture(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T | None, Exception | None]:
    """``(result, None)`` or ``(None, error)``: for pages that render the error later."""
    try:
        return fn(*args, **kwargs), None
    except Exception as exc:
        if not isinstance(exc, CreditsError):
            log.exception("unexpected error in the credits UI", exc_info=exc)
        return None, exc
