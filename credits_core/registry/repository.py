"""Versioned storage of registry documents (memory and SQLite).

Every accepted change is a new version (+1); old versions stay readable so
that ops can see what a tool cost at any time. Ledger rows keep the registry
version they were priced with, so a change never reprices the past.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from ..errors import ConfigError, NotFound, RegistryVersionConflict
from .model import Registry, load_default_registry, parse_registry


class RegistryRepository(Protocol):
    def current(self) -> Registry:
        """The newest version."""
        ...

    def get(self, version: int) -> Registry:
        """One version; ``NotFound`` when absent."""
        ...

    def versions(self) -> list[dict[str, Any]]:
        """``[{version, updatedAt}]``, newest first."""
        ...

    def save(self, doc: dict[str, Any], *, expected_version: int | None = None) -> Registry:
        """Validate ``doc`` and store it as the next version."""
        ...


def managed_fields(tenant: str, version: int, now: datetime | None = None) -> dict[str, Any]:
    """The fields a save sets by itself (a document's own values for them are replaced)."""
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds").replace("+00:00", "Z")
    return {"tenant": tenant, "version": version, "updatedAt": stamp}


def _next_doc(doc: dict[str, Any], tenant: str, version: int) -> dict[str, Any]:
    return {**doc, **managed_fields(tenant, version)}


class MemoryRegistryRepository:
    """Registry versions held in memory (DEMO mode and tests)."""

    def __init__(self, tenant: str = "cityzeen", initial: Registry | None = None) -> None:
        self.tenant = tenant
        self._lock = threading.Lock()
        self._versions: list[Registry] = [initial or load_default_registry(tenant)]

    def current(self) -> Registry:
        return self._versions[-1]

    def get(self, version: int) -> Registry:
        for reg in self._versions:
            if reg.version == version:
                return reg
        raise NotFound(f"registry version {version} does not exist")

    def versions(self) -> list[dict[str, Any]]:
        return [{"version": r.version, "updatedAt": r.updated_at} for r in reversed(self._versions)]

    def save(self, doc: dict[str, Any], *, expected_version: int | None = None) -> Registry:
        with self._lock:
            cur = self.current().version
            _check_expected(expected_version, cur)
            reg = parse_registry(_next_doc(doc, self.tenant, cur + 1))
            self._versions.append(reg)
            return reg


class SqliteRegistryRepository:
    """Registry versions in a SQLite table (shared by every process on the file)."""

    CHECK_INTERVAL_S = 1.0

    _SCHEMA = """
    CREATE TABLE IF NOT EXISTS registry_versions (
        tenant TEXT NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL, updated_at TEXT NOT NULL,
        PRIMARY KEY (tenant, version))
    """

    def __init__(self, path: str | Path, tenant: str = "cityzeen") -> None:
        self.tenant = tenant
        self.path = str(path)
        try:
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(self._SCHEMA)
        except sqlite3.Error as exc:
            raise ConfigError(
                f"cannot open the registry database at CZ_LEDGER_PATH/CZ_REGISTRY_PATH ({exc})",
                variable="CZ_REGISTRY_PATH",
            ) from None
        self._lock = threading.RLock()
        self._cache: Registry | None = None
        self._checked_at = 0.0
        if self._latest_version() is None:
            default = load_default_registry(tenant)
            self._insert(default)

    def _latest_version(self) -> int | None:
        with self._lock:
            row = self._db.execute(
                "SELECT max(version) FROM registry_versions WHERE tenant=?", (self.tenant,)
            ).fetchone()
        return row[0]

    def _insert(self, reg: Registry) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO registry_versions(tenant, version, doc, updated_at) VALUES (?,?,?,?)",
            (self.tenant, reg.version, json.dumps(reg.to_json()), reg.updated_at),
        )

    def current(self) -> Registry:
        # Another process may save a version: look at most once a second.
        now = time.monotonic()
        cached = self._cache
        if cached is not None and now - self._checked_at < self.CHECK_INTERVAL_S:
            return cached
        latest = self._latest_version()
        if cached is None or cached.version != latest:
            cached = self._cache = self.get(latest)
        self._checked_at = now
        return cached

    def get(self, version: int) -> Registry:
        with self._lock:
            row = self._db.execute(
                "SELECT doc FROM registry_versions WHERE tenant=? AND version=?", (self.tenant, version)
            ).fetchone()
        if row is None:
            raise NotFound(f"registry version {version} does not exist")
        return parse_registry(json.loads(row[0]))

    def versions(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT version, updated_at FROM registry_versions WHERE tenant=? ORDER BY version DESC", (self.tenant,)
            ).fetchall()
        return [{"version": v, "updatedAt": u} for v, u in rows]

    def save(self, doc: dict[str, Any], *, expected_version: int | None = None) -> Registry:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT max(version) FROM registry_versions WHERE tenant=?", (self.tenant,)
                ).fetchone()
                cur = row[0] or 0
                _check_expected(expected_version, cur)
                reg = parse_registry(_next_doc(doc, self.tenant, cur + 1))
                self._insert(reg)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._cache, self._checked_at = reg, time.monotonic()
            return reg


def _check_expected(expected: int | None, current: int) -> None:
    if expected is not None and expected != current:
        raise RegistryVersionConflict(
            f"registry changed meanwhile: expected version {expected}, current is {current}",
            currentVersion=current,
        )
