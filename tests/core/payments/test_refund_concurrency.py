"""Two partial refunds of one charge delivered at the same time (issue 12, item 4).

Each delivery reads Stripe first; the interleaving is forced: the first
delivery has read Stripe after the first refund only (30 %), the second after
both (60 %), and only then may either enter its store transaction. Exactly
60 credits must be taken back, in threads of one process and in two OS
processes on one SQLite file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from credits_core import CreditsService, FixedClock, SqliteStore
from credits_core.registry import MemoryRegistryRepository
from tests.core.payments.support import PACK_CREDITS, App, GatedStore, gateway_for
from tests.core.payments.test_refund_orders import T0
from tests.core.support import assert_consistent
from tests.standins.stripe import FakeStripe

ROOT = Path(__file__).resolve().parents[3]
WAIT_S = 30  # a bound on waiting for the other side, never an assertion on time


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe(lifetime_s=300) as f:
        yield f


def test_two_threads_take_back_exactly_the_refunded_fraction(fake: FakeStripe, tmp_path: Path):
    store = SqliteStore(tmp_path / "ledger.sqlite3")
    holding = threading.Event()
    arrived = threading.Semaphore(0)
    barrier = threading.Barrier(2, timeout=WAIT_S)

    def gate() -> None:
        if holding.is_set():
            arrived.release()
            barrier.wait()

    gated = GatedStore(store, gate)
    app = App(CreditsService(gated, MemoryRegistryRepository(), clock=FixedClock(T0)), gateway_for(fake), fake)  # type: ignore[arg-type]
    for n in range(4):
        user = f"twin_{n}"
        sid = app.buy(user)
        assert not app.confirm(user, sid).replayed
        holding.set()
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(app.hook, fake.charge_refunded(sid, amount=450))  # reads 30 % refunded
            assert arrived.acquire(timeout=WAIT_S)  # it read Stripe and waits at the transaction
            second = pool.submit(app.hook, fake.charge_refunded(sid, amount=450))  # reads 60 %
            answers = [first.result(), second.result()]
        holding.clear()
        assert [a["action"] for a in answers] == ["refund_recorded"] * 2
        assert assert_consistent(store, user).balance.purchased == PACK_CREDITS - 60
    store.close()


def test_two_processes_on_one_sqlite_file_take_back_exactly_the_refunded_fraction(fake: FakeStripe, tmp_path: Path):
    ledger = tmp_path / "ledger.sqlite3"
    store = SqliteStore(ledger)
    app = App(CreditsService(store, MemoryRegistryRepository(), clock=FixedClock(T0)), gateway_for(fake), fake)
    user = "twin_processes"
    sid = app.buy(user)
    app.confirm(user, sid)
    gates = tmp_path / "gates"
    gates.mkdir()
    procs = []
    for index in (1, 2):
        payload = fake.charge_refunded(sid, amount=450)
        job = {"secret_key": fake.secret_key, "webhook_secret": fake.webhook_secret,
               "payload": payload.decode(), "signature": fake.sign(payload)}  # fmt: skip
        (tmp_path / f"job-{index}.json").write_text(json.dumps(job))
        args = [str(ledger), fake.url, str(gates), str(index), str(tmp_path / f"job-{index}.json")]
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.core.payments.refund_worker", *args],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        procs.append(proc)
        _wait_for(gates / f"ready-{index}")  # it read Stripe before the next refund happens
    (gates / "go").touch()
    answers = []
    for proc in procs:
        out, err = proc.communicate(timeout=WAIT_S * 2)
        assert proc.returncode == 0, err[-2000:]
        answers.append(json.loads(out.strip().splitlines()[-1]))
    assert [a["action"] for a in answers] == ["refund_recorded"] * 2
    assert assert_consistent(store, user).balance.purchased == PACK_CREDITS - 60
    store.close()


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + WAIT_S
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.005)
