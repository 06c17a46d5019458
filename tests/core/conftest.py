"""Fixtures of the credits_core tests: a fixed clock, the default registry, services and their stores.

A test that reads rows asks for the ``store`` its ``service`` was built on
(or a ``Ledger`` from ``make_ledger``), never for the service's own attribute.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from credits_core import CreditsService, FixedClock, MemoryStore, SqliteStore
from credits_core.registry import MemoryRegistryRepository, Registry, load_default_registry
from tests.ledgers import Ledger

# Mid-month, so that ticking by days stays in January unless a test says otherwise.
T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture(scope="session")
def registry() -> Registry:
    return load_default_registry()


@pytest.fixture
def store() -> MemoryStore:
    """The store of ``service`` (and ``enforced``)."""
    return MemoryStore()


@pytest.fixture
def service(clock: FixedClock, store: MemoryStore) -> CreditsService:
    """Warn-only service on ``store`` (a MemoryStore) with the default registry."""
    return CreditsService(store, MemoryRegistryRepository(), clock=clock)


@pytest.fixture
def enforced(service: CreditsService) -> CreditsService:
    service.enforce = True
    return service


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.sqlite3"


@pytest.fixture
def make_ledger(clock: FixedClock, tmp_path: Path) -> Iterator[Callable[..., Ledger]]:
    """``make_ledger("memory" | "sqlite", enforce=...)`` → ``(service, store)``; SQLite stores are closed afterwards."""
    opened: list[SqliteStore] = []

    def make(kind: str = "memory", *, enforce: bool = False) -> Ledger:
        if kind == "sqlite":
            store = SqliteStore(tmp_path / f"ledger-{len(opened)}.sqlite3")
            opened.append(store)
        else:
            store = MemoryStore()
        return Ledger(CreditsService(store, MemoryRegistryRepository(), enforce=enforce, clock=clock), store)

    yield make
    for store in opened:
        store.close()
