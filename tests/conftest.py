"""Shared fixtures: a scrubbed environment and an artifacts folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(autouse=True)
def _scrub_config_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CZ_/ODOO_/CLERK_/STRIPE_ variable of the shell leaks into a test.

    ``CZ_CLOCK`` is the exception: CI sets it to run the date-sensitive tests
    on fixed dates (the 1st at 00:00:30, 31 December 23:59:30, 29 February).
    """
    for name in list(os.environ):
        if name.startswith(("CZ_", "ODOO_", "CLERK_", "STRIPE_")) and name != "CZ_CLOCK":
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
