"""Ledgers of the tests: a service with the store it was built on, and a cached seeded ledger.

``Ledger`` pairs a service with its store, so a test reads the rows it wrote
from the store it built, never through the service.

``seeded_ledger``: a ≥100k-row SQLite ledger seeded through the real service,
built once and cached. Used by the Ops page timing test and by
``bench/bench_ui.py``. The cache key is the seed code, its parameters and the
default registry, so any change to how history is generated builds a new ledger.
"""

from __future__ import annotations

import hashlib
import inspect
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import credits_core.seed as seed_module
from credits_core import CreditsService, SqliteStore
from credits_core.registry import SqliteRegistryRepository, load_default_registry
from credits_core.stores import LedgerStore

# A fixed end date: the same rows (and row count) on every machine and every day.
SEED_100K = {"users": 60, "months": 4, "seed": 7, "scale": 2.9, "end": datetime(2026, 11, 1, tzinfo=UTC)}


class Ledger(NamedTuple):
    """A service and the store it was built on (tests read rows from ``store``)."""

    service: CreditsService
    store: LedgerStore


def seeded_ledger(cache_dir: Path, params: dict | None = None) -> tuple[Path, int]:
    """``(path, row count)`` of a cached seeded ledger (built on first use)."""
    params = params or SEED_100K
    fingerprint = hashlib.sha256(
        (inspect.getsource(seed_module) + repr(params) + load_default_registry().model_dump_json()).encode()
    ).hexdigest()[:12]
    path = cache_dir / f"ledger-{fingerprint}.sqlite3"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        for stale in path.parent.glob("ledger-*"):
            stale.unlink()
        store = SqliteStore(tmp)
        service = CreditsService(store, SqliteRegistryRepository(tmp), enforce=False)
        with store.relaxed_durability():
            seed_module.seed_demo(service, **params)
        store.close()
        with sqlite3.connect(tmp) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for side in (".tmp-wal", ".tmp-shm"):
            Path(str(tmp).replace(".tmp", side)).unlink(missing_ok=True)
        tmp.rename(path)
    return path, count_rows(path)


def count_rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM ledger").fetchone()[0]
