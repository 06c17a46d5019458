"""Embedded SQLite store: the default ledger of server mode.

WAL journal, ``synchronous=FULL`` (an acknowledged credit survives power
loss, not only a crash), UNIQUE row names, and every mutation in one
``BEGIN IMMEDIATE`` transaction that also updates the user's derived
account, so readers never scan history and several processes can share the
file (SQLite's write lock serialises them; ``busy_timeout`` waits).
One connection per thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from ..errors import ConfigError, CreditsError, LedgerUnavailable, StateConflict
from ..models import Account, Balance, Row
from ..policy.ledger import Decision, Lookup
from .base import DailyBuckets, DailyTotal, RowFilter, ToolUsage, append_all
from .sqlite_async import AsyncCommitter

T = TypeVar("T")

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA foreign_keys=ON",
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

_SNAPSHOTS = 4096  # cached accounts per connection (see SqliteStore.snapshot)
_SNAPSHOT_ROWS = 50  # longer tails are read, not cached
_ROW_COLS = "name, user_id, kind, delta, included_delta, created_at, meta"
_TS = "%Y-%m-%d %H:%M:%S.%f"


class SqliteStore:
    """The ledger in one SQLite file (see module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._writer = threading.Lock()  # one writing thread per process (see transact)
        self._queue_lock = threading.Lock()
        self._pending: list[_Job] = []
        self._committer: AsyncCommitter | None = None
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = self._conn()
            conn.executescript(SCHEMA)
            _migrate(conn)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"CZ_LEDGER_PATH: cannot open a writable SQLite ledger at {self.path!r} ({exc})",
                variable="CZ_LEDGER_PATH",
            ) from None

    # -- connections -------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    def _open(self) -> sqlite3.Connection:
        """A new connection with the ledger's pragmas (closed by ``close``)."""
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        for pragma in PRAGMAS:
            conn.execute(pragma)
        with self._all_lock:
            self._all.append(conn)
        return conn

    @contextlib.contextmanager
    def relaxed_durability(self) -> Iterator[None]:
        """``synchronous=OFF`` on this thread's connection, for bulk seeding only."""
        conn = self._conn()
        conn.execute("PRAGMA synchronous=OFF")
        try:
            yield
        finally:
            conn.execute("PRAGMA synchronous=FULL")

    def close(self) -> None:
        committer, self._committer = self._committer, None
        if committer is not None:
            committer.close()
        with self._all_lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()

    # -- reads -------------------------------------------------------------
    def account(self, user_id: str) -> Account:
        with _mapped():
            return _read_account(self._conn(), user_id)

    def snapshot(self, user_id: str, limit: int) -> tuple[Account, list[Row]]:
        """The account and last ``limit`` rows, from this thread's cache while nothing was committed.

        ``PRAGMA data_version`` (one cheap call) tells whether any other
        connection, of this process or another, committed since the cached
        read; if one did, the account is read again and the tail reused only
        when the user's row count is unchanged (rows are append-only), so an
        answer is never stale. For the event loop: point reads only, no write.
        """
        with _mapped():
            conn = self._conn()
            cache = self._local.__dict__.setdefault("snapshots", {})
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            hit = cache.get(user_id)
            if hit is not None and hit[2] >= limit:
                if hit[0] == version:
                    return hit[1], hit[3][:limit]
                acc = _read_account(conn, user_id)
                if acc == hit[1]:
                    cache[user_id] = (version, acc, hit[2], hit[3])
                    return acc, hit[3][:limit]
            conn.execute("BEGIN")  # account and tail from one read transaction
            try:
                acc = _read_account(conn, user_id)
                rows = self._tail(conn, user_id, limit)
            finally:
                conn.execute("COMMIT")
            if limit <= _SNAPSHOT_ROWS:  # bounded memory: at most _SNAPSHOTS x _SNAPSHOT_ROWS rows
                if len(cache) >= _SNAPSHOTS:
                    cache.pop(next(iter(cache)))
                cache[user_id] = (version, acc, limit, rows)
            return acc, rows

    def find(self, name: str) -> Row | None:
        with _mapped():
            return _find(self._conn(), name)

    def tail(self, user_id: str, limit: int) -> list[Row]:
        with _mapped():
            return self._tail(self._conn(), user_id, limit)

    @staticmethod
    def _tail(conn: sqlite3.Connection, user_id: str, limit: int) -> list[Row]:
        cur = conn.execute(
            f"SELECT {_ROW_COLS} FROM ledger WHERE user_id=? ORDER BY id DESC LIMIT ?", (user_id, max(0, limit))
        )
        return [_to_row(r) for r in cur]

    def rows(self, where: RowFilter = RowFilter(), limit: int | None = None) -> list[Row]:
        sql, args = _where(where)
        with _mapped():
            cur = self._conn().execute(
                f"SELECT {_ROW_COLS} FROM ledger {sql} ORDER BY id DESC LIMIT ?", (*args, -1 if limit is None else limit)
            )
            return [_to_row(r) for r in cur]

    def iter_rows(self, where: RowFilter = RowFilter(), *, light: bool = False, batch: int = 5000) -> Iterator[Row]:
        """Rows matching ``where`` in append order (oldest first), read ``batch`` at a time.

        ``light``: a debit carries only ``tool``, ``cost`` and ``shortfall`` as meta (what
        re-pricing reads; SQLite's JSON1 extracts the shortfall), sparing a JSON parse per
        row; every other row is whole.
        """
        sql, args = _where(where)
        extra = ", CASE WHEN kind = 'debit' THEN json_extract(meta, '$.shortfall') END" if light else ", NULL"
        with _mapped():
            cur = self._conn().cursor()
            cur.execute(f"SELECT {_ROW_COLS}, tool{extra} FROM ledger {sql} ORDER BY id", args)
            loads, parse = json.loads, datetime.fromisoformat
            while chunk := cur.fetchmany(batch):
                for name, user, kind, delta, inc, created, meta, tool, short in chunk:
                    if light and kind == "debit":
                        meta_of = {"tool": tool, "cost": short or -delta, "shortfall": short} if short else {
                            "tool": tool, "cost": -delta}
                    else:
                        meta_of = loads(meta)
                    yield Row(name, user, kind, delta, inc, parse(created + "+00:00"), meta_of)

    def daily_totals(self, where: RowFilter = RowFilter()) -> list[DailyTotal]:
        sql, args = _where(where)
        with _mapped():
            cur = self._conn().execute(
                f"SELECT substr(created_at, 1, 10) AS day, kind, sum(delta), count(*) FROM ledger {sql} "
                "GROUP BY day, kind ORDER BY day, kind",
                args,
            )
            return [DailyTotal(*r) for r in cur]

    def daily_buckets(self, where: RowFilter = RowFilter()) -> list[DailyBuckets]:
        sql, args = _where(where)
        with _mapped():
            cur = self._conn().execute(
                "SELECT substr(created_at, 1, 10) AS day, sum(included_delta), sum(delta - included_delta), "
                f"sum(max(delta, 0)), sum(min(delta, 0)) FROM ledger {sql} GROUP BY day ORDER BY day",
                args,
            )
            return [DailyBuckets(*r) for r in cur]

    def top_tools(self, where: RowFilter = RowFilter(), limit: int = 10) -> list[ToolUsage]:
        sql, args = _where(RowFilter(where.user_id, ("debit",), where.since, where.until))
        with _mapped():
            cur = self._conn().execute(
                f"SELECT coalesce(tool, '?'), -sum(delta) AS credits, count(*) AS uses FROM ledger {sql} "
                "GROUP BY tool ORDER BY credits DESC, uses DESC, tool LIMIT ?",
                (*args, limit),
            )
            return [ToolUsage(*r) for r in cur]

    def accounts(self) -> list[Account]:
        with _mapped():
            cur = self._conn().execute(f"SELECT {_ACCOUNT_COLS} FROM accounts")
            return [_to_account(r) for r in cur]

    # -- the one write path ------------------------------------------------
    def transact(self, user_id: str, decide: Callable[[Account, Lookup], Decision[T]]) -> T:
        """Group commit: concurrent calls of this process share one transaction and one fsync.

        Each call runs in its own SAVEPOINT, so a decision that raises rolls
        back only its own rows. The first waiting thread becomes the writer
        and commits everything queued so far; the others only wait. Across
        processes SQLite's write lock (``BEGIN IMMEDIATE``) keeps the order.
        """
        job = _Job(user_id, decide)
        with self._queue_lock:
            self._pending.append(job)
        with self._writer:
            if not job.done:
                with self._queue_lock:
                    batch, self._pending = self._pending, []
                self._commit(batch)
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[no-any-return]

    async def transact_async(self, user_id: str, decide: Callable[[Account, Lookup], Decision[T]]) -> T:
        """``transact`` for the event loop: an asyncio-native group commit, no threadpool hop.

        Requests queue their decisions; one batch at a time runs them on the
        loop in one ``BEGIN IMMEDIATE`` (a SAVEPOINT each) and COMMITs in the
        store's commit thread (one fsync per batch); the futures resolve after
        COMMIT returned, and a failed COMMIT fails every call of its batch.
        """
        loop = asyncio.get_running_loop()
        committer = self._committer
        if committer is None or committer.loop is not loop:
            if committer is not None and committer.loop.is_closed():
                committer.close()  # its loop is gone (asyncio.run ended): end its thread too
            committer = self._committer = AsyncCommitter(loop, self._writer, self._open, run_batch, fail_batch)
        return await committer.submit(_Job(user_id, decide))  # type: ignore[no-any-return]

    def _commit(self, batch: list[_Job]) -> None:
        conn = self._conn()
        self._local.__dict__.pop("snapshots", None)  # data_version does not count this connection's own commits
        try:
            conn.execute("BEGIN IMMEDIATE")
            run_batch(conn, batch)
            conn.execute("COMMIT")
        except BaseException as exc:
            fail_batch(conn, batch, exc)
        finally:
            for job in batch:
                job.done = True


def run_batch(conn: sqlite3.Connection, batch: list[_Job]) -> None:
    """Every job of ``batch`` in its own SAVEPOINT of the open write transaction."""
    for job in batch:
        _run_job(conn, job)
        if not conn.in_transaction:  # SQLite aborted the whole transaction (e.g. disk full)
            raise job.error or LedgerUnavailable("the ledger transaction was aborted; nothing was written")


def fail_batch(conn: sqlite3.Connection, batch: list[_Job], exc: BaseException) -> None:
    """Roll the batch back and give every call of it the failure: none of it is acknowledged."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")
    failure = _translate(exc) if isinstance(exc, sqlite3.Error) else exc
    for job in batch:
        if job.error is None:
            job.result, job.error = None, failure


@dataclass(eq=False)
class _Job:
    user_id: str
    decide: Callable[[Account, Lookup], Decision[Any]]
    done: bool = False
    ran: bool = False  # its decision ran in a batch that COMMITted
    result: Any = None
    error: BaseException | None = None


def _run_job(conn: sqlite3.Connection, job: _Job) -> None:
    conn.execute("SAVEPOINT job")
    try:
        acc = _read_account(conn, job.user_id)
        decision = job.decide(acc, lambda name: _find(conn, name))
        rows = append_all(decision.rows)
        if rows:
            conn.executemany(
                f"INSERT INTO ledger ({_ROW_COLS}, tool) VALUES (?,?,?,?,?,?,?,?)",
                [(*_from_row(r), r.meta.get("tool")) for r in rows],
            )
            _write_account(conn, acc.with_rows(rows))
        conn.execute("RELEASE job")
        job.result = decision.result
    except Exception as exc:
        job.error = _translate(exc) if isinstance(exc, sqlite3.Error) else exc
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")


class _mapped:
    """Turn sqlite3 errors into engine errors (never a stack trace upstream)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if isinstance(exc, sqlite3.Error):
            raise _translate(exc) from None
        return False


def _translate(exc: sqlite3.Error) -> CreditsError:
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


_ACCOUNT_COLS = "user_id, included, purchased, plan, month, month_peak, month_granted, trim_seq, rows, holds"


def _migrate(conn: sqlite3.Connection) -> None:
    for table, column, ddl in MIGRATIONS:
        if column not in {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}:
            with contextlib.suppress(sqlite3.OperationalError):  # another process added it first
                conn.execute(ddl)


def _read_account(conn: sqlite3.Connection, user_id: str) -> Account:
    row = conn.execute(f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE user_id=?", (user_id,)).fetchone()
    return _to_account(row) if row else Account(user_id)


def _to_account(r: tuple[Any, ...]) -> Account:
    holds = tuple((k, n, e) for k, n, e in json.loads(r[9])) if r[9] != "[]" else ()
    return Account(r[0], Balance(r[1], r[2]), r[3], r[4], r[5], r[6], r[7], r[8], holds)


def _write_account(conn: sqlite3.Connection, acc: Account) -> None:
    conn.execute(
        f"INSERT OR REPLACE INTO accounts ({_ACCOUNT_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (acc.user_id, acc.balance.included, acc.balance.purchased, acc.plan, acc.month,
         acc.month_peak, acc.month_granted, acc.trim_seq, acc.rows, json.dumps(acc.holds, separators=(",", ":"))),
    )


def _find(conn: sqlite3.Connection, name: str) -> Row | None:
    r = conn.execute(f"SELECT {_ROW_COLS} FROM ledger WHERE name=?", (name,)).fetchone()
    return _to_row(r) if r else None


def _from_row(row: Row) -> tuple[Any, ...]:
    created = row.created_at.astimezone(UTC).strftime(_TS)
    meta = json.dumps(row.meta, separators=(",", ":"), sort_keys=True)
    return (row.name, row.user_id, row.kind, row.delta, row.included_delta, created, meta)


def _to_row(r: tuple[Any, ...]) -> Row:
    created = datetime.fromisoformat(r[5]).replace(tzinfo=UTC)  # _TS text; fromisoformat is ~10x strptime
    return Row(r[0], r[1], r[2], r[3], r[4], created, json.loads(r[6]))


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
        args.append(where.since.astimezone(UTC).strftime(_TS))
    if where.until:
        clauses.append("created_at < ?")
        args.append(where.until.astimezone(UTC).strftime(_TS))
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), tuple(args)
