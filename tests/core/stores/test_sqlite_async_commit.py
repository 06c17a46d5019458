"""``SqliteStore.transact_async``: the asyncio group commit, and ``snapshot`` reads that are never stale."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import UTC, datetime

import pytest

from credits_core.errors import InsufficientCredits
from credits_core.models import Row
from credits_core.stores import SqliteStore
from credits_core.stores.base import Decision

AT = datetime(2026, 1, 15, tzinfo=UTC)


def _row(i: int, user: str | None = None) -> Row:
    return Row(f"CZ_SMCR|adjust|ac-{i}", user or f"user-{i % 3}", "adjust", 5, 5, AT, {"i": i})


def test_async_calls_share_commits_but_keep_their_own_outcomes(tmp_path):
    store = SqliteStore(tmp_path / "ledger.sqlite3")

    async def call(i: int) -> object:
        def decide(acc, lookup):
            if i % 2:
                raise InsufficientCredits("odd callers are refused", i=i)
            return Decision([_row(i)], ("ok", i))

        try:
            return await store.transact_async(f"user-{i % 3}", decide)
        except InsufficientCredits as exc:
            return exc.details["i"]

    async def main() -> list[object]:
        return await asyncio.gather(*(call(i) for i in range(60)))

    outcomes = asyncio.run(main())
    assert [outcomes[i] for i in range(1, 60, 2)] == list(range(1, 60, 2))
    assert all(outcomes[i] == ("ok", i) for i in range(0, 60, 2))
    assert {r.name for r in store.rows()} == {f"CZ_SMCR|adjust|ac-{i}" for i in range(0, 60, 2)}
    for user in ("user-0", "user-1", "user-2"):
        rows = [r for r in store.rows() if r.user_id == user]
        assert store.account(user).balance.included == sum(r.delta for r in rows)
    store.close()


def test_a_burst_shares_few_commits(tmp_path, monkeypatch):
    store = SqliteStore(tmp_path / "ledger.sqlite3")
    commits = []
    real_open = store._open

    def counting_open() -> sqlite3.Connection:
        conn = real_open()
        conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
        return conn

    monkeypatch.setattr(store, "_open", counting_open)

    async def main() -> None:
        await asyncio.gather(*(store.transact_async("u", lambda acc, lookup, i=i: Decision([_row(i, "u")], i)) for i in range(50)))

    asyncio.run(main())
    assert len(store.rows()) == 50
    assert 1 <= len(commits) <= 5, commits  # one fsync for the burst, not fifty
    store.close()


class _CommitFails(sqlite3.Connection):
    def execute(self, sql, *args):  # type: ignore[override]
        if sql == "COMMIT":
            raise sqlite3.OperationalError("disk I/O error")
        return super().execute(sql, *args)


def test_a_failing_commit_fails_every_call_of_its_batch(tmp_path, monkeypatch):
    store = SqliteStore(tmp_path / "ledger.sqlite3")
    store.transact("u", lambda acc, lookup: Decision([_row(0, "u")], None))

    def failing_open() -> sqlite3.Connection:
        conn = sqlite3.connect(store.path, timeout=30, isolation_level=None, check_same_thread=False, factory=_CommitFails)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    monkeypatch.setattr(store, "_open", failing_open)

    async def main() -> list[object]:
        calls = [store.transact_async("u", lambda acc, lookup, i=i: Decision([_row(i, "u")], i)) for i in range(1, 20)]
        return await asyncio.gather(*calls, return_exceptions=True)

    outcomes = asyncio.run(main())
    assert all(getattr(o, "code", "") == "ledger_unavailable" for o in outcomes), outcomes
    assert [r.name for r in store.rows()] == ["CZ_SMCR|adjust|ac-0"]  # none of the batch was acknowledged or kept
    assert store.account("u").rows == 1
    store.close()


def test_threads_and_the_loop_write_together(tmp_path):
    store = SqliteStore(tmp_path / "ledger.sqlite3")

    def threads() -> None:
        workers = [
            threading.Thread(target=store.transact, args=("u", lambda acc, lookup, i=i: Decision([_row(i, "u")], i)))
            for i in range(100, 140)
        ]
        for t in workers:
            t.start()
        for t in workers:
            t.join()

    async def main() -> None:
        side = threading.Thread(target=threads)
        side.start()
        await asyncio.gather(*(store.transact_async("u", lambda acc, lookup, i=i: Decision([_row(i, "u")], i)) for i in range(40)))
        await asyncio.get_running_loop().run_in_executor(None, side.join)

    asyncio.run(main())
    assert len(store.rows()) == 80
    assert store.account("u").balance.included == 400 and store.account("u").rows == 80
    store.close()


def test_snapshot_is_never_stale(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    store, other = SqliteStore(path), SqliteStore(path)  # `other` stands for another process
    store.transact("u", lambda acc, lookup: Decision([_row(0, "u")], None))
    acc, rows = store.snapshot("u", 5)
    assert acc.rows == 1 and [r.name for r in rows] == ["CZ_SMCR|adjust|ac-0"]
    assert store.snapshot("u", 5) == (acc, rows)  # served from the cache

    other.transact("u", lambda acc, lookup: Decision([_row(1, "u")], None))
    acc, rows = store.snapshot("u", 5)
    assert acc.rows == 2 and [r.name for r in rows] == ["CZ_SMCR|adjust|ac-1", "CZ_SMCR|adjust|ac-0"]

    other.transact("v", lambda acc, lookup: Decision([_row(2, "v")], None))  # another user: the tail is reused
    assert store.snapshot("u", 5) == (acc, rows)
    assert store.snapshot("u", 1) == (acc, rows[:1])

    store.transact("u", lambda acc, lookup: Decision([_row(3, "u")], None))  # this thread's own connection
    assert store.snapshot("u", 5)[0].rows == 3

    async def write_async() -> None:
        await store.transact_async("u", lambda acc, lookup: Decision([_row(4, "u")], None))

    asyncio.run(write_async())
    acc, rows = store.snapshot("u", 5)
    assert acc.rows == 4 and rows[0].name == "CZ_SMCR|adjust|ac-4"
    store.close()
    other.close()


@pytest.mark.parametrize("limit", [0, 3])
def test_snapshot_of_an_unknown_user(tmp_path, limit):
    store = SqliteStore(tmp_path / "ledger.sqlite3")
    acc, rows = store.snapshot("nobody", limit)
    assert acc.rows == 0 and rows == []
    store.close()


def test_disk_full_under_async_debits_keeps_every_acknowledged_one(tmp_path, monkeypatch):
    from credits_core import CreditsService
    from credits_core.errors import LedgerUnavailable

    store = SqliteStore(tmp_path / "ledger.sqlite3")
    service = CreditsService(store)
    service.top_up("full", "pack_2000", "cs_full")
    real_open = store._open

    def tiny_open() -> sqlite3.Connection:
        conn = real_open()
        conn.execute("PRAGMA max_page_count=60")
        return conn

    monkeypatch.setattr(store, "_open", tiny_open)

    async def burst(start: int) -> list[object]:
        calls = [service.debit_async("full", "ask_ai", f"full-{i}") for i in range(start, start + 25)]
        return await asyncio.gather(*calls, return_exceptions=True)

    async def main() -> tuple[int, list[BaseException]]:
        acked, errors = 0, []
        for start in range(0, 5000, 25):
            outcomes = await burst(start)
            acked += sum(not isinstance(o, BaseException) for o in outcomes)
            errors += [o for o in outcomes if isinstance(o, BaseException)]
            if errors:
                break
        return acked, errors

    acked, errors = asyncio.run(main())
    assert errors and all(isinstance(e, LedgerUnavailable) and "full" in e.message for e in errors), errors[:1]
    store.close()
    reopened = SqliteStore(tmp_path / "ledger.sqlite3")
    debits = [r for r in reopened.rows() if r.kind == "debit"]
    assert len(debits) == acked > 0
    assert reopened.account("full").balance.total == sum(r.delta for r in reopened.rows())  # no partial row
    reopened.close()
