"""Bad input everywhere: ids, keys, types, corrupt files, unusable ledgers. Nothing is ever half-written."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from credits_core import CreditsService, FixedClock, SqliteStore, load_settings, open_service
from credits_core.errors import (
    BadRequest,
    ConfigError,
    CreditsError,
    InvalidKey,
    LedgerUnavailable,
    NotFound,
    UnknownPack,
    UnknownPlan,
    UnknownTool,
)
from credits_core.models import Account
from credits_core.registry import SqliteRegistryRepository
from credits_core.stores import LedgerStore
from tests.core.conftest import T0
from tests.core.support import assert_consistent

BAD_KEYS = [
    pytest.param("", id="empty"),
    pytest.param("k" * 201, id="201-chars"),
    pytest.param("has space", id="space"),
    pytest.param(" lead", id="leading-space"),
    pytest.param("tab\there", id="tab"),
    pytest.param("line\nbreak", id="newline"),
    pytest.param("clé", id="unicode"),
    pytest.param("ｋｅｙ", id="fullwidth"),
    pytest.param("a|b", id="pipe"),
    pytest.param("CZ_SMCR|debit|x", id="row-name"),
    pytest.param("k/1", id="slash"),
    pytest.param(None, id="None"),
    pytest.param(42, id="int"),
    pytest.param(b"bytes", id="bytes"),
    pytest.param(["k"], id="list"),
]
BAD_USERS = ["", "a|b", "has space", "u" * 129, "ctrl\x00", "tab\t", None, 7, ["u"]]


def assert_nothing_written(store: LedgerStore) -> None:
    assert store.rows() == []
    assert store.accounts() == []


# -- keys and user ids ------------------------------------------------------------


@pytest.mark.parametrize("key", BAD_KEYS)
def test_malformed_idempotency_keys_are_refused_everywhere(service, store, key):
    calls = {
        "idempotencyKey": [lambda: service.debit("u", "ask_ai", key), lambda: service.refund(key)],
        "sessionId": [lambda: service.top_up("u", "pack_100", key)],
        "key": [lambda: service.adjust("u", key, 1, "included", "x")],
        "requestId": [lambda: service.change_plan("u", "intelligence", request_id=key or "!")],
    }
    for field, fns in calls.items():
        for fn in fns:
            with pytest.raises(InvalidKey) as info:
                fn()
            err = info.value
            assert (err.code, err.http_status, err.details["field"]) == ("invalid_key", 400, field)
            assert "1-200 characters" in err.message
            if isinstance(key, str) and len(key) > 40:
                assert key not in err.message  # long input is not echoed back whole
    assert_nothing_written(store)


@pytest.mark.parametrize("key", ["k", "k" * 200, "A-Za-z0-9._:-", "stripe:cs_test_a1.b-2_c"])
def test_well_formed_keys_are_accepted(service, key):
    assert service.debit("u", "ask_ai", key).row.name == f"CZ_SMCR|debit|{key}"


@pytest.mark.parametrize("user", BAD_USERS)
def test_malformed_user_ids_are_refused_everywhere(service, store, user):
    calls = [
        lambda: service.state(user),
        lambda: service.debit(user, "ask_ai", "k"),
        lambda: service.change_plan(user, "intelligence"),
        lambda: service.top_up(user, "pack_100", "cs_1"),
        lambda: service.adjust(user, "a1", 1, "included", "x"),
        lambda: service.ledger_tail(user),
    ]
    for fn in calls:
        with pytest.raises(InvalidKey) as info:
            fn()
        assert info.value.details["field"] == "userId"
    assert_nothing_written(store)


def test_an_unknown_user_reads_as_empty_and_is_not_written_by_a_read(service, store):
    assert service.ledger_tail("stranger") == []
    assert store.account("stranger") == Account("stranger")
    assert_nothing_written(store)
    with pytest.raises(NotFound):
        service.refund("stranger-key")


# -- unknown catalog ids and non-string values --------------------------------------


@pytest.mark.parametrize("tool", ["teleport", "", "ASK_AI", None, 3, ["ask_ai"], {"id": "ask_ai"}])
def test_unknown_tools(service, store, tool):
    with pytest.raises(UnknownTool) as info:
        service.debit("u", tool, "k1")
    assert info.value.http_status == 400 and "unknown tool" in info.value.message
    assert_nothing_written(store)  # not even the first grant


@pytest.mark.parametrize("plan", ["platinum", "", "Base", None, 2, ["base"], {"a": 1}])
def test_unknown_plans(service, store, plan):
    for dry_run in (True, False):
        with pytest.raises(UnknownPlan) as info:
            service.change_plan("u", plan, dry_run=dry_run)
        assert "plans are base, intelligence, professional" in info.value.message
    assert_nothing_written(store)


@pytest.mark.parametrize("pack", ["pack_1", "", None, 100, ["pack_100"]])
def test_unknown_packs(service, store, pack):
    with pytest.raises(UnknownPack) as info:
        service.top_up("u", pack, "cs_1")
    assert "packs are pack_100, pack_500, pack_2000" in info.value.message
    assert_nothing_written(store)


@pytest.mark.parametrize("limit", ["20", 2.5, None, True, [20]])
def test_non_integer_limits_are_bad_requests(service, limit):
    with pytest.raises(BadRequest) as info:
        service.ledger_tail("u", limit)
    assert info.value.details["field"] == "limit"


@pytest.mark.parametrize("delta", ["5", 5.0, None, True])
def test_non_integer_adjustments_are_bad_requests(service, store, delta):
    with pytest.raises(BadRequest) as info:
        service.adjust("u", "a1", delta, "included", "x")
    assert info.value.details["field"] == "delta"
    assert_nothing_written(store)


def test_limits_are_clamped_to_1_500(service):
    for i in range(3):
        service.debit("u", "ask_ai", f"k{i}")
    assert len(service.ledger_tail("u", 0)) == 1
    assert len(service.ledger_tail("u", -5)) == 1
    assert len(service.ledger_tail("u", 10_000)) == 4


# -- files: corrupt, unwritable, read-only, full -----------------------------------


def test_a_path_that_cannot_hold_a_ledger_is_a_config_error_naming_the_variable(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    for path in (blocker / "ledger.sqlite3", tmp_path):  # parent is a file; path is a directory
        with pytest.raises(ConfigError) as info:
            SqliteStore(path)
        assert info.value.details["variable"] == "CZ_LEDGER_PATH"
        assert "CZ_LEDGER_PATH" in info.value.message


def test_open_service_reports_an_unwritable_ledger_path_at_start_up(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    settings = load_settings({"CZ_LEDGER_PATH": str(blocker / "sub" / "ledger.sqlite3")})
    with pytest.raises(ConfigError) as info:
        open_service(settings)
    assert "CZ_LEDGER_PATH" in info.value.message


def test_a_corrupt_ledger_file_is_a_config_error(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigError) as info:
        SqliteStore(path)
    assert "CZ_LEDGER_PATH" in info.value.message
    assert path.read_bytes() == b"this is not a database" * 100  # left as it was


def test_a_corrupt_registry_database_is_a_config_error(tmp_path):
    path = tmp_path / "registry.sqlite3"
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(ConfigError) as info:
        SqliteRegistryRepository(path)
    assert info.value.details["variable"] == "CZ_REGISTRY_PATH"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores file permissions")
def test_a_read_only_ledger_file_refuses_writes(tmp_path):  # pragma: no cover - runs only as non-root
    path = tmp_path / "ledger.sqlite3"
    SqliteStore(path).close()
    path.chmod(0o444)
    try:
        store = SqliteStore(path)
        service = CreditsService(store, clock=FixedClock(T0))
        with pytest.raises((LedgerUnavailable, ConfigError)):
            service.debit("u", "ask_ai", "k1")
    except ConfigError as exc:
        assert "CZ_LEDGER_PATH" in exc.message
    finally:
        path.chmod(0o644)


def sqlite_service(path: Path) -> tuple[CreditsService, SqliteStore]:
    store = SqliteStore(path)
    return CreditsService(store, clock=FixedClock(T0)), store


def test_a_read_only_ledger_gives_ledger_unavailable_and_writes_nothing(sqlite_path):
    service, store = sqlite_service(sqlite_path)
    service.debit("u", "ask_ai", "k1")
    before = store.rows()
    store._conn().execute("PRAGMA query_only=ON")  # the connection can no longer write: as a read-only file
    with pytest.raises(LedgerUnavailable) as info:
        service.debit("u", "ask_ai", "k2")
    err = info.value
    assert (err.code, err.http_status) == ("ledger_unavailable", 503)
    assert err.message == "the ledger file is read-only; nothing was written"
    assert service.state("u").balance.total == 99  # reads still work
    store._conn().execute("PRAGMA query_only=OFF")
    assert store.rows() == before
    assert_consistent(store, "u")
    store.close()


def test_a_full_disk_gives_ledger_unavailable_and_writes_nothing(sqlite_path):
    service, store = sqlite_service(sqlite_path)
    service.top_up("u", "pack_2000", "cs_1")
    conn = store._conn()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count={pages}")  # the file cannot grow any more
    with pytest.raises(LedgerUnavailable) as info:
        for i in range(2000):
            before = (store.rows(), store.account("u"))
            service.debit("u", "ask_ai", f"k{i}")
    assert info.value.message == "the disk holding the ledger is full; nothing was written"
    assert (store.rows(), store.account("u")) == before
    assert store.find(f"CZ_SMCR|debit|k{i}") is None
    assert_consistent(store, "u")
    conn.execute("PRAGMA max_page_count=1073741823")  # space again: the same key now works
    assert service.debit("u", "ask_ai", f"k{i}").replayed is False
    store.close()


def test_a_busy_ledger_gives_ledger_unavailable(sqlite_path):
    service, store = sqlite_service(sqlite_path)
    service.state("u")
    store._conn().execute("PRAGMA busy_timeout=50")
    other = sqlite3.connect(sqlite_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with pytest.raises(LedgerUnavailable) as info:
            service.debit("u", "ask_ai", "k1")
        assert "busy" in info.value.message
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert service.debit("u", "ask_ai", "k1").balance.total == 99
    store.close()


def test_engine_errors_never_carry_a_driver_traceback(sqlite_path):
    service, store = sqlite_service(sqlite_path)
    store._conn().execute("PRAGMA query_only=ON")
    with pytest.raises(CreditsError) as info:
        service.debit("u", "ask_ai", "k1")
    assert info.value.__cause__ is None and info.value.__suppress_context__
    store.close()
