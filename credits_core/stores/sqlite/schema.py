"""The SQLite ledger's schema: pragmas, DDL, migrations, and how rows and accounts map onto columns."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import UTC, datetime
from typing import Any

import orjson

from ...models import Account, Balance, Row

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA temp_store=MEMORY",
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE CHECK (name LIKE 'CZ_SMCR|%'),
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    delta INTEGER NOT NULL,
    included_delta INTEGER NOT NULL,
    tool TEXT,
    created_at TEXT NOT NULL,
    meta TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_user_id ON ledger (user_id, id);
CREATE INDEX IF NOT EXISTS ledger_created ON ledger (created_at);
CREATE INDEX IF NOT EXISTS ledger_kind ON ledger (kind, created_at);
CREATE TABLE IF NOT EXISTS accounts (
    user_id TEXT PRIMARY KEY,
    included INTEGER NOT NULL CHECK (included >= 0),
    purchased INTEGER NOT NULL CHECK (purchased >= 0),
    plan TEXT,
    month TEXT,
    month_peak INTEGER NOT NULL,
    month_granted INTEGER NOT NULL,
    trim_seq INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    holds TEXT NOT NULL DEFAULT '[]'
);
"""
# Files made before holds existed get the column (JSON list of active holds, Account.holds).
MIGRATIONS = (("accounts", "holds", "ALTER TABLE accounts ADD COLUMN holds TEXT NOT NULL DEFAULT '[]'"),)

ROW_COLS = "name, user_id, kind, delta, included_delta, created_at, meta"
ACCOUNT_COLS = "user_id, included, purchased, plan, month, month_peak, month_granted, trim_seq, rows, holds"
TS = "%Y-%m-%d %H:%M:%S.%f"


def migrate(conn: sqlite3.Connection) -> None:
    for table, column, ddl in MIGRATIONS:
        if column not in {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}:
            with contextlib.suppress(sqlite3.OperationalError):  # another process added it first
                conn.execute(ddl)


def to_account(r: tuple[Any, ...]) -> Account:
    holds = tuple(map(tuple, orjson.loads(r[9]))) if r[9] != "[]" else ()  # [[key, credits, expiresAt], …]
    return Account(r[0], Balance(r[1], r[2]), r[3], r[4], r[5], r[6], r[7], r[8], holds)


def from_row(row: Row) -> tuple[Any, ...]:
    created = row.created_at.astimezone(UTC).isoformat(" ", "microseconds")[:-6]  # = strftime(TS), faster
    meta = dumps(row.meta)
    return (row.name, row.user_id, row.kind, row.delta, row.included_delta, created, meta)


def to_row(r: tuple[Any, ...]) -> Row:
    created = datetime.fromisoformat(r[5]).replace(tzinfo=UTC)  # TS text; fromisoformat is ~10x strptime
    return Row(r[0], r[1], r[2], r[3], r[4], created, orjson.loads(r[6]))


def dumps(value: Any) -> str:
    """Compact JSON text, keys sorted (the ledger's ``meta`` and ``holds`` columns; orjson, UTF-8 kept)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()
