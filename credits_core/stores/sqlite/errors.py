"""sqlite3 errors → engine errors: their text and traceback never reach a user."""

from __future__ import annotations

import sqlite3
from typing import Any

from ...errors import CreditsError, LedgerUnavailable, StateConflict


class mapped:
    """Turn sqlite3 errors into engine errors (never a stack trace upstream)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if isinstance(exc, sqlite3.Error):
            raise translate(exc) from None
        return False


def translate(exc: sqlite3.Error) -> CreditsError:
    """The engine error for a sqlite3 error (its text and traceback never reach a user)."""
    err = _describe(exc)
    err.__suppress_context__ = True
    return err


def _describe(exc: sqlite3.Error) -> CreditsError:
    if isinstance(exc, sqlite3.IntegrityError):
        detail = str(exc)
        if "included" in detail or "purchased" in detail:
            return StateConflict("that change would take a balance below zero; nothing was written")
        if "UNIQUE" in detail:
            return StateConflict("that ledger row already exists; nothing was written")
        return StateConflict("the ledger refused that row; nothing was written")
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text:
        reason = "the ledger file is read-only"
    elif "full" in text:
        reason = "the disk holding the ledger is full"
    elif "locked" in text or "busy" in text:
        reason = "the ledger is busy; try again"
    else:
        reason = "the ledger database failed"
    return LedgerUnavailable(f"{reason}; nothing was written", reason=reason)
