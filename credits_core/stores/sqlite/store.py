"""``SqliteStore``: the ledger in one SQLite file (guarantees in the package docstring).

One connection per thread; reads delegate to :mod:`.reads`, the one write
path is a group commit (:mod:`.group_commit` for the batch, :mod:`.async_commit`
for the event loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from ...errors import ConfigError
from ...models import Account, Row
from ..base import DailyBuckets, DailyTotal, Decision, Lookup, RowFilter, ToolUsage
from . import reads
from .async_commit import AsyncCommitter
from .errors import mapped
from .group_commit import Job, KnownHolds, fail_batch, run_batch
from .schema import PRAGMAS, SCHEMA, migrate

T = TypeVar("T")


class SqliteStore:
    """The ledger in one SQLite file (see the package docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._writer = threading.Lock()  # one writing thread per process (see transact)
        self._queue_lock = threading.Lock()
        self._pending: list[Job] = []
        self._leader: Job | None = None  # the call committing the threads' next batch (see transact)
        self._committer: AsyncCommitter | None = None
        self._known = KnownHolds()
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = self._conn()
            conn.executescript(SCHEMA)
            migrate(conn)
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
        with mapped():
            return reads.read_account(self._conn(), user_id)

    def snapshot(self, user_id: str, limit: int) -> tuple[Account, list[Row]]:
        """The account and last ``limit`` rows, from this thread's cache while nothing was committed.

        Never stale (``PRAGMA data_version``; see :func:`.reads.snapshot`). For the
        event loop: point reads only, no write.
        """
        with mapped():
            cache = self._local.__dict__.setdefault("snapshots", {})
            return reads.snapshot(self._conn(), cache, user_id, limit)

    def find(self, name: str) -> Row | None:
        with mapped():
            return reads.find(self._conn(), name)

    def tail(self, user_id: str, limit: int) -> list[Row]:
        with mapped():
            return reads.tail(self._conn(), user_id, limit)

    def rows(self, where: RowFilter = RowFilter(), limit: int | None = None) -> list[Row]:
        with mapped():
            return reads.rows(self._conn(), where, limit)

    def iter_rows(self, where: RowFilter = RowFilter(), *, light: bool = False, batch: int = 5000) -> Iterator[Row]:
        """Rows matching ``where`` in append order (oldest first), read ``batch`` at a time.

        ``light``: a debit carries only ``tool``, ``cost`` and ``shortfall`` as meta
        (see :func:`.reads.iter_rows`); every other row is whole.
        """
        with mapped():
            yield from reads.iter_rows(self._conn(), where, light=light, batch=batch)

    def daily_totals(self, where: RowFilter = RowFilter()) -> list[DailyTotal]:
        with mapped():
            return reads.daily_totals(self._conn(), where)

    def daily_buckets(self, where: RowFilter = RowFilter()) -> list[DailyBuckets]:
        with mapped():
            return reads.daily_buckets(self._conn(), where)

    def top_tools(self, where: RowFilter = RowFilter(), limit: int = 10) -> list[ToolUsage]:
        with mapped():
            return reads.top_tools(self._conn(), where, limit)

    def accounts(self) -> list[Account]:
        with mapped():
            return reads.accounts(self._conn())

    # -- the one write path ------------------------------------------------
    def transact(self, user_id: str, decide: Callable[[Account, Lookup], Decision[T]]) -> T:
        """Group commit: concurrent calls of this process share one transaction and one fsync.

        A decision that raises, or a write that fails, fails only its own call
        (``group_commit.run_batch``). One waiting thread at a time leads: it commits
        everything queued so far, wakes the calls of its batch, and hands the
        lead to the oldest call still queued; the others only wait for their
        own call to end (not for the writer lock: a call whose batch is already
        committed returns at once). Across processes SQLite's write lock
        (``BEGIN IMMEDIATE``) keeps the order.
        """
        wake = threading.Lock()
        wake.acquire()
        job = Job(user_id, decide, wake=wake)
        with self._queue_lock:
            self._pending.append(job)
            lead = self._leader is None
            if lead:
                self._leader = job
        if not lead:
            wake.acquire()
        if not job.done:  # leading (first in line, or handed the lead)
            self._lead()
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[no-any-return]

    def _lead(self) -> None:
        """Commit the queued calls as one batch, wake them, and pass the lead on (see ``transact``)."""
        batch: list[Job] = []
        try:
            with self._queue_lock:
                batch, self._pending = self._pending, []
            with self._writer:
                self._commit(batch)
        finally:
            with self._queue_lock:
                successor = self._leader = self._pending[0] if self._pending else None
            for job in batch:
                job.wake.release()  # type: ignore[union-attr]
            if successor is not None:
                successor.wake.release()  # type: ignore[union-attr]

    async def transact_async(self, user_id: str, decide: Callable[[Account, Lookup], Decision[T]]) -> T:
        """``transact`` for the event loop: an asyncio-native group commit, no threadpool hop.

        Requests queue their decisions; one batch at a time runs them on the
        loop in one ``BEGIN IMMEDIATE`` (``group_commit.run_batch``) and COMMITs in the
        store's commit thread (one fsync per batch); the futures resolve after
        COMMIT returned, and a failed COMMIT fails every call of its batch.
        """
        loop = asyncio.get_running_loop()
        committer = self._committer
        if committer is None or committer.loop is not loop:
            if committer is not None and committer.loop.is_closed():
                committer.close()  # its loop is gone (asyncio.run ended): end its thread too
            committer = self._committer = AsyncCommitter(
                loop,
                self._writer,
                self._open,
                functools.partial(run_batch, known=self._known),
                fail_batch,
                self._known.remember,
            )
        return await committer.submit(Job(user_id, decide))  # type: ignore[no-any-return]

    def _commit(self, batch: list[Job]) -> None:
        conn = self._conn()
        self._local.__dict__.pop("snapshots", None)  # data_version does not count this connection's own commits
        try:
            conn.execute("BEGIN IMMEDIATE")
            run_batch(conn, batch, self._known)
            conn.execute("COMMIT")
        except BaseException as exc:
            fail_batch(conn, batch, exc)
        else:
            self._known.remember(batch)
        finally:
            for job in batch:
                job.done = True
