"""Network faults, Odoo error payloads and a lost answer: never a half-written or doubled row."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from credits_core import CreditsService, MemoryStore
from credits_core.errors import LedgerUnavailable
from credits_core.registry import MemoryRegistryRepository
from tests.core.support import assert_consistent
from tests.odoo.fault_ops import FAULTS, ledger_of, operations, run
from tests.odoo.support import KEY, PROTOCOLS, open_store, start_fake
from tests.standins.odoo import DEBUG_MARKER

ROOT = Path(__file__).resolve().parents[2]


def clean(message: str) -> None:
    assert DEBUG_MARKER not in message and "Traceback" not in message and KEY not in message, message


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failed_or_lost_create_is_recovered_without_a_second_row(make_store, fake, clock, fault):
    store = make_store(timeout_s=0.3)
    service = CreditsService(store, MemoryRegistryRepository(), clock=clock)
    service.state("u")
    fake.inject(fault, methods={"create"}, times=1, hang_s=0.6)
    if fault == "timeout":  # Odoo may still be working on it: not confirmed, not written again
        with pytest.raises(LedgerUnavailable) as info:
            service.debit("u", "comps_report", "k1")
        assert "retry with the same key" in info.value.message
    answer = service.debit("u", "comps_report", "k1")
    assert answer.balance.total == 97 and not answer.replayed
    assert Counter(r["name"] for r in fake.rows())["CZ_SMCR|debit|k1"] == 1
    assert not [r for r in fake.rows(active_test=False) if not r["active"]]  # nothing to compensate
    assert service.debit("u", "comps_report", "k1").row == answer.row
    assert_consistent(store, "u")


@pytest.mark.parametrize("fault", FAULTS)
def test_reads_are_retried(make_store, fake, clock, fault):
    store = make_store(timeout_s=0.15, retries=4)
    service = CreditsService(store, MemoryRegistryRepository(), clock=clock)
    fake.inject(fault, rate=0.4, methods={"search_read", "read_group", "formatted_read_group"}, seed=3, hang_s=0.3)
    for i in range(4):
        service.debit("u", "ask_ai", f"k{i}")
    fake.inject(None)
    assert service.state("u").balance.total == 96
    assert_consistent(store, "u")


@pytest.mark.parametrize("fault", ["access_error", "validation_error"])
def test_odoo_error_payloads_are_a_clean_ledger_unavailable(service, fake, fault):
    service.state("u")
    before = fake.rows(active_test=False)
    fake.inject(fault, methods={"create"})
    with pytest.raises(LedgerUnavailable) as info:
        service.debit("u", "ask_ai", "k1")
    clean(info.value.message)
    assert ("AccessError" if fault == "access_error" else "ValidationError") in info.value.message
    assert info.value.http_status == 503
    assert fake.rows(active_test=False) == before
    fake.inject(fault, methods={"read_group", "formatted_read_group"})
    with pytest.raises(LedgerUnavailable) as info:
        service.state("u")
    clean(info.value.message)


def test_odoo_going_away_is_ledger_unavailable(protocol, clock):
    fake = start_fake()
    store = open_store(fake, protocol, timeout_s=0.5, retries=1)
    service = CreditsService(store, MemoryRegistryRepository(), clock=clock)
    service.debit("u", "ask_ai", "k1")
    fake.stop()
    for call in (lambda: service.debit("u", "ask_ai", "k2"), lambda: service.state("u"), lambda: store.rows()):
        with pytest.raises(LedgerUnavailable) as info:
            call()
        assert "Odoo" in info.value.message
        clean(info.value.message)
    store.close()


def test_a_revoked_key_is_ledger_unavailable(service, fake):
    service.state("u")
    fake.set_api_key("rotated-key")
    with pytest.raises(LedgerUnavailable) as info:
        service.debit("u", "ask_ai", "k1")
    assert "refused" in info.value.message
    clean(info.value.message)


def test_an_expired_uid_is_authenticated_again(fake, clock):
    store = open_store(fake, "jsonrpc")
    service = CreditsService(store, MemoryRegistryRepository(), clock=clock)
    store._client._uid = 99  # what Odoo says for a user that no longer exists: MissingError on res.users
    assert service.debit("u", "ask_ai", "k1").balance.total == 99
    assert store._client._uid == 2
    store.close()


# -- 1,000 operations with 10 % faults vs the same operations without ---------------------------


@pytest.mark.slow
def test_a_thousand_operations_with_ten_percent_faults_leave_the_same_ledger():
    """Both protocols in two processes (in parallel); the fault-free run is the reference memory store
    (``test_odoo_service`` shows the Odoo store answers exactly like it without faults)."""
    procs = {
        protocol: subprocess.Popen(
            [sys.executable, "-m", "tests.odoo.fault_worker", protocol, "5", "1000"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for protocol in PROTOCOLS
    }
    memory = MemoryStore()
    expected, _ = run(memory, operations(5, 1000))
    assert "gave up" not in expected
    assert Counter(a if isinstance(a, str) else "ok" for a in expected)["ok"] > 800
    for protocol, proc in procs.items():
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        got = json.loads(out)
        assert got["leaks"] == [], protocol
        diff = [(i, a, b) for i, (a, b) in enumerate(zip(got["answers"], expected, strict=True)) if a != b]
        assert not diff, f"{protocol}: {len(diff)} answers differ, first: {diff[0]}"
        assert got["ledger"] == ledger_of(memory.rows()), protocol
        assert got["per_name"] == 1, protocol
