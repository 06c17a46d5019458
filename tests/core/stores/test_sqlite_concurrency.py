"""SQLite under real concurrency: several OS processes and threads on one file, and a SIGKILL."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from credits_core import CreditsService, FixedClock, SqliteStore
from credits_core.models import Balance
from credits_core.stores import RowFilter
from tests.core.conftest import T0
from tests.core.support import assert_consistent

WORKER = Path(__file__).with_name("sqlite_worker.py")
ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def prepare(path: Path, user: str, *, adjust: int = 0, top_up: str | None = None) -> None:
    store = SqliteStore(path)
    service = CreditsService(store, clock=FixedClock(T0))
    service.state(user)
    if adjust:
        service.adjust(user, "setup", adjust, "included", "test setup")
    if top_up:
        service.top_up(user, top_up, "cs_setup")
    store.close()


def race(path: Path, user: str, tool: str, keys_per_process: list[list[str]], tmp_path: Path) -> list[dict]:
    """Run one worker per key list, start every thread at once, return every answer."""
    go = tmp_path / "go"
    procs = [spawn("race", str(path), T0.isoformat(), str(go), user, tool, *keys) for keys in keys_per_process]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    go.touch()
    answers: list[dict] = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        answers += [json.loads(line) for line in out.splitlines() if line.strip()]
    assert sum(len(k) for k in keys_per_process) == len(answers)
    return answers


def test_same_key_from_two_processes_times_eight_threads_writes_one_row(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    prepare(path, "u")
    answers = race(path, "u", "comps_report", [["same-key"] * 8, ["same-key"] * 8], tmp_path)
    assert all(a["ok"] for a in answers), answers
    assert sorted(a["replayed"] for a in answers) == [False] + [True] * 15
    assert {a["row"] for a in answers} == {"CZ_SMCR|debit|same-key"}
    assert {json.dumps(a["balance"]) for a in answers} == {json.dumps(Balance(97, 0).to_dict())}
    store = SqliteStore(path)
    try:
        assert len(store.rows(RowFilter(kinds=("debit",)))) == 1
        assert assert_consistent(store, "u").balance == Balance(97, 0)
    finally:
        store.close()


def test_fifty_racers_on_a_balance_for_ten_debits(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    prepare(path, "u", adjust=-70)  # 30 included: exactly ten comps_report (3 credits)
    keys = [f"racer-{i}" for i in range(50)]
    answers = race(path, "u", "comps_report", [keys[:25], keys[25:]], tmp_path)
    won = [a for a in answers if a["ok"]]
    lost = [a for a in answers if not a["ok"]]
    assert len(won) == 10 and not any(a["replayed"] for a in won)
    assert {a["code"] for a in lost} == {"insufficient_credits"} and len(lost) == 40
    assert all(a["balance"]["total"] >= 0 for a in won)
    assert sorted(a["balance"]["total"] for a in won) == list(range(0, 30, 3))
    store = SqliteStore(path)
    try:
        debits = store.rows(RowFilter(kinds=("debit",)))
        assert sorted(r.name for r in debits) == sorted(f"CZ_SMCR|debit|{a['key']}" for a in won)
        assert assert_consistent(store, "u").balance == Balance(0, 0)
    finally:
        store.close()


def test_a_writer_killed_mid_stream_loses_no_acknowledged_debit(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    prepare(path, "u", top_up="pack_2000")
    rng = random.Random()
    kill_after = rng.randint(15, 60)
    proc = spawn("stream", str(path), T0.isoformat(), "u", "ask_ai")
    acked: list[str] = []
    try:
        while len(acked) < kill_after:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            acked.append(line.strip())
        time.sleep(rng.uniform(0, 0.004))  # land anywhere inside a later transaction
        proc.send_signal(signal.SIGKILL)
        rest = proc.stdout.read()  # the buffered reader, not communicate(): it would skip buffered lines
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    acked += rest.split()  # keys acknowledged between our last read and the kill

    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        raw.close()
    store = SqliteStore(path)  # reopens cleanly after the crash
    try:
        names = [r.name for r in reversed(store.rows(RowFilter(kinds=("debit",))))]
        committed = [n.removeprefix("CZ_SMCR|debit|") for n in names]
        assert committed[: len(acked)] == acked, "an acknowledged debit is missing"
        assert len(committed) - len(acked) <= 1  # at most the one in flight, and then whole
        assert committed == [f"stream-{i}" for i in range(len(committed))]
        acc = assert_consistent(store, "u")  # no partial row: account and rows agree
        assert acc.balance.total == 2100 - len(committed) and acc.rows == 2 + len(committed)  # grant, top-up, debits
        service = CreditsService(store, clock=FixedClock(T0))
        assert service.debit("u", "ask_ai", "after-crash").balance.total == 2099 - len(committed)
    finally:
        store.close()
