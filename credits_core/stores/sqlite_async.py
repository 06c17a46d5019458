"""The asyncio-native group commit of ``SqliteStore.transact_async``.

Requests append a job and await its future. One batch at a time (a task of
the event loop) takes every queued job, opens ``BEGIN IMMEDIATE``, runs each
job in its own SAVEPOINT **on the loop** (point reads and in-memory page
writes: microseconds, and no thread fights the loop for the GIL per
statement), then runs ``COMMIT`` — the fsync — in the store's one commit
thread. Futures resolve only after COMMIT returned; a failed COMMIT fails
every job of the batch. Jobs queued meanwhile form the next batch, so a
burst shares one fsync.

Waiting never happens on the loop: the process's writer lock (shared with
the threads' ``transact``) and SQLite's write lock (held by another process)
are first tried without waiting, and waited for in the commit thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


class AsyncCommitter:
    """Group commit for one event loop (see module docstring)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        lock: threading.Lock,
        connect: Callable[[], sqlite3.Connection],
        run_batch: Callable[[sqlite3.Connection, list[Any]], None],
        fail_batch: Callable[[sqlite3.Connection, list[Any], BaseException], None],
    ) -> None:
        self.loop = loop
        self._lock = lock  # the store's writer lock: one write transaction per process
        self._connect = connect
        self._run_batch = run_batch
        self._fail_batch = fail_batch
        self._conn: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-commit")
        self._pending: list[tuple[Any, asyncio.Future[Any]]] = []
        self._running = False

    def submit(self, job: Any) -> asyncio.Future[Any]:
        """Queue ``job``; the future gets its result (or error) once its batch is durable."""
        future = self.loop.create_future()
        self._pending.append((job, future))
        if not self._running:
            self._running = True
            self.loop.create_task(self._batches())
        return future

    def close(self) -> None:
        self._thread.shutdown(wait=True)

    async def _batches(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                await self._commit(batch)
        finally:
            self._running = False

    async def _in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn`` in the commit thread; if this task is cancelled, still wait for it (the connection is shared)."""
        done = self._thread.submit(fn, *args)
        try:
            return await asyncio.wrap_future(done)
        except asyncio.CancelledError:
            done.result()
            raise

    async def _commit(self, batch: list[tuple[Any, asyncio.Future[Any]]]) -> None:
        jobs = [job for job, _ in batch]
        try:
            if not self._lock.acquire(blocking=False):
                try:
                    await self._in_thread(self._lock.acquire)
                except asyncio.CancelledError:  # _in_thread waited: the lock is ours
                    self._lock.release()
                    raise
            try:
                conn = self._conn
                if conn is None:
                    conn = self._conn = self._connect()
                try:
                    await self._begin(conn)
                    self._run_batch(conn, jobs)
                    await self._in_thread(conn.execute, "COMMIT")
                    for job in jobs:
                        job.ran = True
                except BaseException as exc:
                    self._fail_batch(conn, jobs, exc)
            finally:
                self._lock.release()
        finally:
            for job, future in batch:
                job.done = True
                if future.done():  # the request went away; its outcome stands in the ledger
                    continue
                if job.error is not None:
                    future.set_exception(job.error)
                elif job.result is None and not job.ran:  # cancelled before the batch ran
                    future.cancel()
                else:
                    future.set_result(job.result)

    async def _begin(self, conn: sqlite3.Connection) -> None:
        """``BEGIN IMMEDIATE``: on the loop when the write lock is free, else waited for in the commit thread."""
        conn.execute("PRAGMA busy_timeout=0")
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
        finally:
            conn.execute("PRAGMA busy_timeout=30000")
        await self._in_thread(conn.execute, "BEGIN IMMEDIATE")
