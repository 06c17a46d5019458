"""The asyncio-native group commit of ``SqliteStore.transact_async`` (the batch itself: ``group_commit.py``).

Requests append a job and await its future. One batch at a time (a task of
the event loop) takes every queued job, opens ``BEGIN IMMEDIATE``, runs the
jobs (``group_commit.run_batch``) **on the loop** (point reads and in-memory page
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
import queue
import sqlite3
import threading
from collections.abc import Callable
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
        committed: Callable[[list[Any]], None],
    ) -> None:
        self.loop = loop
        self._lock = lock  # the store's writer lock: one write transaction per process
        self._connect = connect
        self._run_batch = run_batch
        self._fail_batch = fail_batch
        self._committed = committed  # told of each batch that COMMITted (while the writer lock is held)
        self._conn: sqlite3.Connection | None = None
        self._thread = CommitThread(loop)
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
        self._thread.stop()

    async def _batches(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                await self._commit(batch)
        finally:
            self._running = False

    async def _in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn`` in the commit thread; if this task is cancelled, still wait for it (the connection is shared)."""
        future = self.loop.create_future()
        finished = threading.Event()
        self._thread.put((fn, args, future, finished))
        try:
            return await future
        except asyncio.CancelledError:
            finished.wait()
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
                    self._committed(jobs)
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


class CommitThread:
    """One daemon thread running the calls it is handed, in order; each answer goes back to the loop.

    A plain ``SimpleQueue`` hand-off and one ``call_soon_threadsafe`` per
    call: cheaper on the loop than ``ThreadPoolExecutor.submit`` +
    ``wrap_future``, which the profile showed.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._calls: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="sqlite-commit", daemon=True)
        self._thread.start()

    def put(self, call: tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any], threading.Event]) -> None:
        self._calls.put(call)

    def stop(self) -> None:
        self._calls.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join(30)

    def _run(self) -> None:
        while (call := self._calls.get()) is not None:
            fn, args, future, finished = call
            try:
                outcome: tuple[Any, BaseException | None] = (fn(*args), None)
            except BaseException as exc:  # handed to the awaiting task
                outcome = (None, exc)
            finished.set()
            try:
                self._loop.call_soon_threadsafe(_resolve, future, *outcome)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
