"""The process-wide service shared by the HTTP API and the pages in server mode.

Built once from the environment (configuration errors surface at start-up);
the API routes and the Streamlit pages call the same object, so a debit made
through one is visible in the other at once.
"""

from __future__ import annotations

import threading

from . import open_service
from .config import Settings, load_settings
from .service import CreditsService

_lock = threading.Lock()
_settings: Settings | None = None
_service: CreditsService | None = None


def shared_settings() -> Settings:
    """Settings read once per process."""
    global _settings
    with _lock:
        if _settings is None:
            _settings = load_settings()
        return _settings


def shared_service() -> CreditsService:
    """The one service of this process (opened on first use)."""
    global _service
    settings = shared_settings()
    with _lock:
        if _service is None:
            _service = open_service(settings)
        return _service


def reset_shared() -> None:
    """Forget the shared service and settings (tests change the environment)."""
    global _service, _settings
    with _lock:
        if _service is not None:
            _service.store.close()
        _service, _settings = None, None
