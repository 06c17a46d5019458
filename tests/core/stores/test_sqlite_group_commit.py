"""Group commit in SqliteStore: shared transactions, private outcomes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from credits_core.errors import InsufficientCredits
from credits_core.models import Row
from credits_core.stores import SqliteStore
from credits_core.stores.base import Decision
from credits_core.stores.sqlite.group_commit import Job, KnownHolds, run_batch

AT = datetime(2026, 1, 15, tzinfo=UTC)


def _row(i: int) -> Row:
    return Row(f"CZ_SMCR|adjust|gc-{i}", f"user-{i % 3}", "adjust", 5, 5, AT, {"i": i})


def test_concurrent_calls_share_commits_but_keep_their_own_outcomes(tmp_path):
    store = SqliteStore(tmp_path / "ledger.sqlite3")
    barrier = threading.Barrier(24)
    outcomes: dict[int, object] = {}

    def call(i: int) -> None:
        def decide(acc, lookup):
            if i % 2:
                raise InsufficientCredits("odd callers are refused", i=i)
            return Decision([_row(i)], ("ok", i, acc.balance.included))

        barrier.wait()
        try:
            outcomes[i] = store.transact(f"user-{i % 3}", decide)
        except InsufficientCredits as exc:
            outcomes[i] = exc.details["i"]

    threads = [threading.Thread(target=call, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {i: outcomes[i] for i in range(1, 24, 2)} == {i: i for i in range(1, 24, 2)}
    assert all(outcomes[i][:2] == ("ok", i) for i in range(0, 24, 2))
    names = {r.name for r in store.rows()}
    assert names == {f"CZ_SMCR|adjust|gc-{i}" for i in range(0, 24, 2)}
    for user in ("user-0", "user-1", "user-2"):
        rows = [r for r in store.rows() if r.user_id == user]
        assert store.account(user).balance.included == sum(r.delta for r in rows)


def test_a_failing_commit_fails_every_call_of_its_batch(tmp_path):
    store = SqliteStore(tmp_path / "ledger.sqlite3")
    store.transact("u", lambda acc, lookup: Decision([_row(0)], None))
    store._conn().execute("PRAGMA max_page_count=1")  # the next write cannot grow the file
    with pytest.raises(Exception) as info:
        store.transact("u", lambda acc, lookup: Decision([_row(i) for i in range(1, 400)], None))
    assert getattr(info.value, "code", "") == "ledger_unavailable"
    assert [r.name for r in store.rows()] == ["CZ_SMCR|adjust|gc-0"]


def test_many_threads_share_commits_and_none_waits_forever(tmp_path, monkeypatch):
    store = SqliteStore(tmp_path / "ledger.sqlite3")
    batches: list[int] = []
    commit = SqliteStore._commit

    def counted(self, batch):
        batches.append(len(batch))
        commit(self, batch)

    monkeypatch.setattr(SqliteStore, "_commit", counted)
    calls, threads_n = 40, 12
    answers: dict[int, list[int]] = {t: [] for t in range(threads_n)}

    def work(t: int) -> None:
        for i in range(calls):
            n = t * calls + i
            answers[t].append(store.transact(f"user-{t}", lambda acc, lookup, n=n: Decision([_row(n)], n)))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert all(answers[t] == [t * calls + i for i in range(calls)] for t in range(threads_n))
    assert sum(batches) == calls * threads_n and len(store.rows()) == calls * threads_n
    assert len(batches) < calls * threads_n  # some calls shared a COMMIT


def test_a_job_whose_write_fails_fails_alone_when_the_batch_runs_again_with_savepoints(tmp_path):
    """The batch runs without a SAVEPOINT per job; a failed write reruns it with them, so only that job fails."""
    store = SqliteStore(tmp_path / "ledger.sqlite3")
    store.transact("user-0", lambda acc, lookup: Decision([_row(0)], None))  # gc-0 exists
    seen: dict[str, list[int]] = {"first": [], "third": []}

    def credit(i: int, tag: str):
        def decide(acc, lookup):
            seen[tag].append(acc.balance.included)  # decisions may run twice: each run sees the batch so far
            return Decision([_row(i)], ("ok", i, acc.balance.included))

        return decide

    def refused(acc, lookup):
        raise InsufficientCredits("refused before writing", i=9)

    jobs = [
        Job("user-1", credit(1, "first")),
        Job("user-2", lambda acc, lookup: Decision([_row(0)], "never")),  # gc-0 again: the UNIQUE name refuses it
        Job("user-1", credit(4, "third")),  # user-1 again, after job 1's row
        Job("user-0", refused),
    ]
    conn = store._conn()
    conn.execute("BEGIN IMMEDIATE")
    run_batch(conn, jobs, KnownHolds())
    conn.execute("COMMIT")

    assert jobs[0].result == ("ok", 1, 0) and jobs[2].result == ("ok", 4, 5)
    assert getattr(jobs[1].error, "code", "") == "conflict" and jobs[1].result is None and not jobs[1].written
    assert isinstance(jobs[3].error, InsufficientCredits)
    # The first pass stopped at the failed write; the second, with SAVEPOINTs, ran every job again.
    assert seen == {"first": [0, 0], "third": [5]}
    assert sorted(r.name for r in store.rows()) == [f"CZ_SMCR|adjust|gc-{i}" for i in (0, 1, 4)]
    assert store.account("user-1").balance.included == 10 and store.account("user-2").rows == 0
