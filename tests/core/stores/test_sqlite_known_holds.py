"""``KnownHolds``: a settle or release of a hold this process committed reads no ledger row."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from credits_core import CreditsService, FixedClock
from credits_core.errors import CreditsError
from credits_core.registry import MemoryRegistryRepository
from credits_core.stores import SqliteStore
from credits_core.stores.sqlite.group_commit import KnownHolds
from tests.core.support import assert_consistent

AT = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
BY_NAME = "FROM ledger WHERE name"


def service_on(store: SqliteStore) -> CreditsService:
    return CreditsService(
        store, MemoryRegistryRepository(), clock=FixedClock(AT), starter_plan="intelligence", enforce=True
    )


def statements_of(store: SqliteStore, call) -> list[str]:
    """The SQL this thread's connection ran during ``call`` (the threads' writer is the caller)."""
    seen: list[str] = []
    conn = store._conn()
    conn.set_trace_callback(seen.append)
    try:
        call()
    finally:
        conn.set_trace_callback(None)
    return seen


def test_settle_of_a_hold_this_process_committed_reads_no_row(tmp_path):
    store = SqliteStore(tmp_path / "ledger.sqlite3")
    svc = service_on(store)
    svc.hold("u", "ask_ai_deep", "h-1")
    sql = statements_of(store, lambda: svc.settle("u", "h-1", 5))
    assert sql and not [s for s in sql if BY_NAME in s]
    assert svc.settle("u", "h-1", 5).replayed  # a replay still finds the settle row in the file
    assert_consistent(store, "u")


def test_a_hold_another_process_wrote_is_read_from_the_file(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    writer, settler = SqliteStore(path), SqliteStore(path)  # two processes' stores on one file
    service_on(writer).hold("u", "ask_ai_deep", "h-1")
    svc = service_on(settler)
    sql = statements_of(settler, lambda: svc.settle("u", "h-1", 5))
    assert [s for s in sql if BY_NAME in s]
    assert settler.account("u").holds == () and writer.account("u").balance.total == 395


def test_a_hold_whose_batch_did_not_commit_is_not_remembered(tmp_path):
    store = SqliteStore(tmp_path / "ledger.sqlite3")
    svc = service_on(store)
    svc.state("u")  # the month's grant
    # A deferred foreign key broken by every hold row: its SAVEPOINT is released, its COMMIT fails.
    store._conn().executescript(
        """
        CREATE TABLE parent (id INTEGER PRIMARY KEY);
        CREATE TABLE guard (pid INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);
        CREATE TRIGGER fail_at_commit AFTER INSERT ON ledger WHEN NEW.kind = 'hold'
        BEGIN INSERT INTO guard VALUES (42); END;
        """
    )
    with pytest.raises(CreditsError):
        svc.hold("u", "ask_ai_deep", "h-1")
    store._conn().execute("DROP TRIGGER fail_at_commit")
    with pytest.raises(CreditsError) as caught:
        svc.settle("u", "h-1", 1)
    assert caught.value.code == "not_found"
    assert store.account("u").balance.total == 400 and store.find("CZ_SMCR|hold|h-1") is None


def test_the_oldest_holds_give_way_and_are_then_read_from_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(KnownHolds, "LIMIT", 2)
    store = SqliteStore(tmp_path / "ledger.sqlite3")
    svc = service_on(store)
    for i in range(4):
        svc.hold("u", "ask_ai_deep", f"h-{i}")
    assert [s for s in statements_of(store, lambda: svc.settle("u", "h-0", 1)) if BY_NAME in s]
    assert not [s for s in statements_of(store, lambda: svc.settle("u", "h-3", 1)) if BY_NAME in s]
    assert {h[0] for h in store.account("u").holds} == {"h-1", "h-2"}
    assert_consistent(store, "u")
