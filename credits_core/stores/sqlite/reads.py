"""Reads of the SQLite ledger on a given connection: account, tail, snapshot, row queries.

Plain functions of a ``sqlite3.Connection``; :class:`~.store.SqliteStore`
hands each its thread's connection and maps sqlite3 errors. The point reads
(``read_account``, ``find``) also run inside the write transaction of a batch.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

from ...models import Account, Row
from ..base import DailyBuckets, DailyTotal, RowFilter, ToolUsage
from .schema import ACCOUNT_COLS, ROW_COLS, TS, to_account, to_row

SNAPSHOTS = 4096  # cached accounts per connection (see snapshot)
SNAPSHOT_ROWS = 50  # longer tails are read, not cached

# user_id -> (data_version, account, tail length, tail rows)
SnapshotCache = dict[str, tuple[int, Account, int, list[Row]]]


def read_account(conn: sqlite3.Connection, user_id: str) -> Account:
    row = conn.execute(f"SELECT {ACCOUNT_COLS} FROM accounts WHERE user_id=?", (user_id,)).fetchone()
    return to_account(row) if row else Account(user_id)


def find(conn: sqlite3.Connection, name: str) -> Row | None:
    r = conn.execute(f"SELECT {ROW_COLS} FROM ledger WHERE name=?", (name,)).fetchone()
    return to_row(r) if r else None


def tail(conn: sqlite3.Connection, user_id: str, limit: int) -> list[Row]:
    cur = conn.execute(
        f"SELECT {ROW_COLS} FROM ledger WHERE user_id=? ORDER BY id DESC LIMIT ?", (user_id, max(0, limit))
    )
    return [to_row(r) for r in cur]


def snapshot(conn: sqlite3.Connection, cache: SnapshotCache, user_id: str, limit: int) -> tuple[Account, list[Row]]:
    """The account and last ``limit`` rows, from ``cache`` (this thread's) while nothing was committed.

    ``PRAGMA data_version`` (one cheap call) tells whether any other
    connection, of this process or another, committed since the cached
    read; if one did, the account is read again and the tail reused only
    when the user's row count is unchanged (rows are append-only), so an
    answer is never stale. For the event loop: point reads only, no write.
    """
    version = conn.execute("PRAGMA data_version").fetchone()[0]
    hit = cache.get(user_id)
    if hit is not None and hit[2] >= limit:
        if hit[0] == version:
            return hit[1], hit[3][:limit]
        acc = read_account(conn, user_id)
        if acc == hit[1]:
            cache[user_id] = (version, acc, hit[2], hit[3])
            return acc, hit[3][:limit]
    conn.execute("BEGIN")  # account and tail from one read transaction
    try:
        acc = read_account(conn, user_id)
        rows = tail(conn, user_id, limit)
    finally:
        conn.execute("COMMIT")
    if limit <= SNAPSHOT_ROWS:  # bounded memory: at most SNAPSHOTS x SNAPSHOT_ROWS rows
        if len(cache) >= SNAPSHOTS:
            cache.pop(next(iter(cache)))
        cache[user_id] = (version, acc, limit, rows)
    return acc, rows


def rows(conn: sqlite3.Connection, where: RowFilter, limit: int | None) -> list[Row]:
    sql, args = _where(where)
    cur = conn.execute(
        f"SELECT {ROW_COLS} FROM ledger {sql} ORDER BY id DESC LIMIT ?", (*args, -1 if limit is None else limit)
    )
    return [to_row(r) for r in cur]


def iter_rows(conn: sqlite3.Connection, where: RowFilter, *, light: bool, batch: int) -> Iterator[Row]:
    """Rows matching ``where`` in append order (oldest first), read ``batch`` at a time.

    ``light``: a debit carries only ``tool``, ``cost`` and ``shortfall`` as meta (what
    re-pricing reads; SQLite's JSON1 extracts the shortfall), sparing a JSON parse per
    row; every other row is whole.
    """
    sql, args = _where(where)
    extra = ", CASE WHEN kind = 'debit' THEN json_extract(meta, '$.shortfall') END" if light else ", NULL"
    cur = conn.cursor()
    cur.execute(f"SELECT {ROW_COLS}, tool{extra} FROM ledger {sql} ORDER BY id", args)
    loads, parse = orjson.loads, datetime.fromisoformat
    while chunk := cur.fetchmany(batch):
        for name, user, kind, delta, inc, created, meta, tool, short in chunk:
            if light and kind == "debit":
                meta_of = (
                    {"tool": tool, "cost": short or -delta, "shortfall": short}
                    if short
                    else {"tool": tool, "cost": -delta}
                )
            else:
                meta_of = loads(meta)
            yield Row(name, user, kind, delta, inc, parse(created + "+00:00"), meta_of)


def daily_totals(conn: sqlite3.Connection, where: RowFilter) -> list[DailyTotal]:
    sql, args = _where(where)
    cur = conn.execute(
        f"SELECT substr(created_at, 1, 10) AS day, kind, sum(delta), count(*) FROM ledger {sql} "
        "GROUP BY day, kind ORDER BY day, kind",
        args,
    )
    return [DailyTotal(*r) for r in cur]


def daily_buckets(conn: sqlite3.Connection, where: RowFilter) -> list[DailyBuckets]:
    sql, args = _where(where)
    cur = conn.execute(
        "SELECT substr(created_at, 1, 10) AS day, sum(included_delta), sum(delta - included_delta), "
        f"sum(max(delta, 0)), sum(min(delta, 0)) FROM ledger {sql} GROUP BY day ORDER BY day",
        args,
    )
    return [DailyBuckets(*r) for r in cur]


def top_tools(conn: sqlite3.Connection, where: RowFilter, limit: int) -> list[ToolUsage]:
    sql, args = _where(RowFilter(where.user_id, ("debit",), where.since, where.until))
    cur = conn.execute(
        f"SELECT coalesce(tool, '?'), -sum(delta) AS credits, count(*) AS uses FROM ledger {sql} "
        "GROUP BY tool ORDER BY credits DESC, uses DESC, tool LIMIT ?",
        (*args, limit),
    )
    return [ToolUsage(*r) for r in cur]


def accounts(conn: sqlite3.Connection) -> list[Account]:
    cur = conn.execute(f"SELECT {ACCOUNT_COLS} FROM accounts")
    return [to_account(r) for r in cur]


def _where(where: RowFilter) -> tuple[str, tuple[Any, ...]]:
    clauses: list[str] = []
    args: list[Any] = []
    if where.user_id:
        clauses.append("user_id = ?")
        args.append(where.user_id)
    if where.kinds:
        clauses.append(f"kind IN ({','.join('?' * len(where.kinds))})")
        args.extend(where.kinds)
    if where.since:
        clauses.append("created_at >= ?")
        args.append(where.since.astimezone(UTC).strftime(TS))
    if where.until:
        clauses.append("created_at < ?")
        args.append(where.until.astimezone(UTC).strftime(TS))
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), tuple(args)
