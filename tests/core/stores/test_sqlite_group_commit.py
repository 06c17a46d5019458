"""Group commit in SqliteStore: shared transactions, private outcomes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from credits_core.errors import InsufficientCredits
from credits_core.models import Row
from credits_core.stores import SqliteStore
from credits_core.stores.base import Decision

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
