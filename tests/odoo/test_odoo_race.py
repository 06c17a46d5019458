"""Two OS processes racing through their own OdooStore against one stand-in."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from credits_core import CreditsService, FixedClock
from credits_core.registry import MemoryRegistryRepository
from tests.core.conftest import T0
from tests.ledgers import Ledger
from tests.odoo.support import open_store
from tests.standins.odoo import FakeOdoo

WORKER = Path(__file__).with_name("worker.py")
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def race(
    fake: FakeOdoo,
    protocol: str,
    tmp_path: Path,
    user: str,
    tool: str,
    keys: list[list[str]],
    *,
    enforce: bool = False,
    jitter_s: float = 0.0,
) -> list[dict]:
    """One worker process per key list, released together; every answer, in order per process."""
    go = tmp_path / f"go-{random.random()}"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                fake.url,
                protocol,
                T0.isoformat(),
                str(go),
                user,
                tool,
                "1" if enforce else "0",
                *ks,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for ks in keys
    ]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    stop = threading.Event()
    if jitter_s:  # random latency per request, changed all the time, to widen the race windows
        rng = random.Random(7)

        def shake() -> None:
            while not stop.wait(0.002):
                fake.set_latency(rng.uniform(0, jitter_s))

        threading.Thread(target=shake, daemon=True).start()
    go.touch()
    answers = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=90)
            assert proc.returncode == 0, err
            answers.append([json.loads(line) for line in out.splitlines() if line.strip()])
    finally:
        stop.set()
        fake.set_latency(0)
    return answers


def prepare(fake: FakeOdoo, protocol: str, user: str, **top_up: int) -> Ledger:
    store = open_store(fake, protocol)
    service = CreditsService(store, MemoryRegistryRepository(), clock=FixedClock(T0))
    service.state(user)
    for ref, credits in top_up.items():
        service.top_up(user, "pack_100", ref, credits=credits, price=1, currency="usd")
    return Ledger(service, store)


def active_names(fake: FakeOdoo, kind: str) -> Counter:
    return Counter(r["name"] for r in fake.rows() if r["referred"] == kind)


@pytest.mark.parametrize(
    ("protocol", "jitter_s"), [("jsonrpc", 0.0), ("json2", 0.004)], ids=["jsonrpc", "json2-random-latency"]
)
def test_same_key_from_two_processes_one_row_one_answer(fake, protocol, tmp_path, jitter_s):
    store = prepare(fake, protocol, "u").store
    keys = [f"same-{i}" for i in range(100)]
    first, second = race(fake, protocol, tmp_path, "u", "ask_ai", [keys, keys], jitter_s=jitter_s)
    assert all(a["ok"] for a in first + second), [a for a in first + second if not a["ok"]]
    for a, b in zip(first, second, strict=True):
        assert (a["row"], a["balance"]) == (b["row"], b["balance"]), a["key"]
        assert not (a["replayed"] and b["replayed"]), a["key"]  # one of them wrote it
    debits = active_names(fake, "debit")
    assert set(debits) == {f"CZ_SMCR|debit|{k}" for k in keys} and set(debits.values()) == {1}
    acc = store.account("u")
    assert acc.balance.included == 100 - 100 and acc.rows == 101
    # every answer is the one kept in the surviving row
    kept = {
        r["name"]: json.loads(r["street2"])["meta"]["balanceAfter"] for r in fake.rows() if r["referred"] == "debit"
    }
    assert all(kept[a["row"]["name"]] == a["balance"] for a in first)


@pytest.mark.parametrize(
    ("protocol", "jitter_s"), [("json2", 0.0), ("jsonrpc", 0.004)], ids=["json2", "jsonrpc-random-latency"]
)
def test_distinct_debits_never_overspend(fake, protocol, tmp_path, jitter_s):
    service, store = prepare(fake, protocol, "u")
    service.adjust("u", "drain", -90, "included", "leave 10 credits")
    keys = [[f"p{p}-{i}" for i in range(12)] for p in range(2)]
    answers = race(fake, protocol, tmp_path, "u", "ask_ai", keys, enforce=True, jitter_s=jitter_s)
    flat = [a for per in answers for a in per]
    assert Counter(a["ok"] for a in flat) == {True: 10, False: 14}
    assert {a["code"] for a in flat if not a["ok"]} == {"insufficient_credits"}
    assert all(a["balance"]["total"] >= 0 for a in flat if a["ok"])
    assert len(active_names(fake, "debit")) == 10
    acc = store.account("u")
    assert acc.balance.total == 0 and acc.balance.included == 0
