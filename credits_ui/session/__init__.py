"""Which service and user this browser session uses: DEMO or server mode.

* **Server mode** — the visitor is signed in through Streamlit's own OIDC
  login (:mod:`.auth`). Every page uses the process-wide
  :func:`credits_core.runtime.shared_service` (the same object the HTTP API
  under ``/api`` uses) and the user id is the OIDC ``sub`` claim (falling
  back to the e-mail address).
* **DEMO mode** — not signed in. Each Streamlit session gets its own
  in-memory ledger (:mod:`.demo`). Nothing leaves the session.

Beside them: :mod:`.admin` (the pages' admin gate; the decision is
``credits_core.access``) and :mod:`.prefs` (per-session UI preferences).
"""

from __future__ import annotations

from dataclasses import dataclass

from credits_core import CreditsService
from credits_core.errors import ConfigError
from credits_core.runtime import shared_service

from .auth import claim, signed_in
from .demo import demo_service, demo_user_id

__all__ = ["DEMO", "SERVER", "UiSession", "current"]

DEMO = "demo"
SERVER = "server"


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


def current() -> UiSession:
    """This browser session's service and user.

    Raises ``CreditsError`` (``ConfigError`` naming the variable, or
    ``LedgerUnavailable``) when server mode cannot open its store.
    """
    if signed_in():
        user_id = claim("sub") or claim("email")
        if not user_id:
            raise ConfigError("the identity provider returned neither 'sub' nor 'email' for this user")
        name = claim("name") or claim("email") or user_id
        return UiSession(SERVER, shared_service(), user_id, name, claim("email"))
    return UiSession(DEMO, demo_service(), demo_user_id(), "DEMO visitor")
