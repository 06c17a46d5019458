"""The one write path's batch: many calls' decisions in one write transaction.

Both group commits use it — the threads' ``SqliteStore.transact`` and the
event loop's :class:`~.async_commit.AsyncCommitter`. A decision that raises
fails only its own call (it raises before writing); a write that fails makes
the batch run again with a SAVEPOINT per job (``run_batch``), so it fails
only its own call too; and a batch whose transaction fails gives every job of
it the failure, so none of it is acknowledged.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...errors import LedgerUnavailable
from ...models import Account, Row
from ..base import Decision, Lookup, append_all
from .errors import translate
from .reads import find, read_account
from .schema import ACCOUNT_COLS, ROW_COLS, dumps, from_row


@dataclass(eq=False)
class Job:
    user_id: str
    decide: Callable[[Account, Lookup], Decision[Any]]
    done: bool = False
    ran: bool = False  # its decision ran in a batch that COMMITted
    result: Any = None
    error: BaseException | None = None
    # A thread's call waits on this lock (taken at birth) until the writer releases it: its call ended,
    # or it is handed the lead. A bare lock: an Event costs a Condition per call.
    wake: threading.Lock | None = None
    written: list[Row] = field(default_factory=list)  # its rows, once they were written in the batch


class KnownHolds:
    """Hold rows this process committed, by name: a settle or release reads its hold without a query.

    A committed row never changes (append-only, unique names), so a hit is
    always what the file holds; a name not kept here is read from the file
    (a hold another process wrote, or one pushed out by newer ones). Only the
    writer (holding the store's writer lock) reads or changes it.
    """

    LIMIT = 10_000

    def __init__(self) -> None:
        self._rows: dict[str, Row] = {}

    def get(self, name: str) -> Row | None:
        return self._rows.get(name)

    def remember(self, batch: list[Job]) -> None:
        """Keep the hold rows of ``batch``, which has just COMMITted."""
        rows = self._rows
        for job in batch:
            for row in job.written:  # empty unless its rows were written
                if row.kind == "hold":
                    rows[row.name] = row
        while len(rows) > self.LIMIT:
            del rows[next(iter(rows))]  # the oldest


def run_batch(conn: sqlite3.Connection, batch: list[Job], known: KnownHolds) -> None:
    """Every job of ``batch`` in the open write transaction (``known``: see ``KnownHolds``).

    A job's decision raises before it writes anything, so a batch needs no
    SAVEPOINT per job unless one of its writes fails (a constraint, which a
    correct decision never meets): the batch runs without them inside one
    SAVEPOINT, and only when a write fails is it rolled back to that point and
    run again with a SAVEPOINT per job, so that the failing job alone fails.
    Decisions are pure functions of what they read, so running one again is safe.
    """
    conn.execute("SAVEPOINT batch")
    try:
        for job in batch:
            _run_job(conn, job, known)
    except Exception:
        if not conn.in_transaction:  # SQLite aborted the whole transaction (e.g. disk full)
            raise
        conn.execute("ROLLBACK TO batch")
        for job in batch:
            job.result, job.error, job.written = None, None, []
        for job in batch:
            _run_job_alone(conn, job, known)
            if not conn.in_transaction:
                raise job.error or LedgerUnavailable("the ledger transaction was aborted; nothing was written") from None
    conn.execute("RELEASE batch")


def fail_batch(conn: sqlite3.Connection, batch: list[Job], exc: BaseException) -> None:
    """Roll the batch back and give every call of it the failure: none of it is acknowledged."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")
    failure = translate(exc) if isinstance(exc, sqlite3.Error) else exc
    for job in batch:
        if job.error is None:
            job.result, job.error = None, failure


def _run_job(conn: sqlite3.Connection, job: Job, known: KnownHolds) -> None:
    """Decide and write ``job``: a decision that raises is the job's answer; a failed read or write raises."""
    acc = read_account(conn, job.user_id)
    try:
        decision = job.decide(acc, lambda name: known.get(name) or find(conn, name))
        rows = append_all(decision.rows)
    except sqlite3.Error:
        raise  # a read failed: the batch decides what to do
    except Exception as exc:
        job.error = exc
        return
    _write(conn, acc, rows)
    job.result, job.written = decision.result, rows


def _run_job_alone(conn: sqlite3.Connection, job: Job, known: KnownHolds) -> None:
    """``job`` in its own SAVEPOINT: a failed write rolls back its rows only and is its answer."""
    conn.execute("SAVEPOINT job")
    try:
        _run_job(conn, job, known)
        conn.execute("RELEASE job")
    except Exception as exc:
        job.error = translate(exc) if isinstance(exc, sqlite3.Error) else exc
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")


def _write(conn: sqlite3.Connection, acc: Account, rows: list[Row]) -> None:
    if rows:
        conn.executemany(
            f"INSERT INTO ledger ({ROW_COLS}, tool) VALUES (?,?,?,?,?,?,?,?)",
            [(*from_row(r), r.meta.get("tool")) for r in rows],
        )
        write_account(conn, acc.with_rows(rows))


def write_account(conn: sqlite3.Connection, acc: Account) -> None:
    conn.execute(
        f"INSERT OR REPLACE INTO accounts ({ACCOUNT_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            acc.user_id,
            acc.balance.included,
            acc.balance.purchased,
            acc.plan,
            acc.month,
            acc.month_peak,
            acc.month_granted,
            acc.trim_seq,
            acc.rows,
            dumps(acc.holds) if acc.holds else "[]",
        ),
    )
