"""Reliability of holds: racing holds never over-commit, abandoned holds expire, racing settles charge once.

Two OS processes (``multiprocessing``, spawn) share one SQLite file, or talk to
one Odoo stand-in; each runs its share of the load on several threads. Every
verdict is read back from the rows afterwards.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

AT = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
USER = "holder"
THREADS = 8


def _service(target: str, clock_at: datetime = AT) -> tuple[Any, Any]:
    """``(service, store)`` on ``target`` (a SQLite path or an Odoo URL); the store is read directly."""
    from credits_core import CreditsService, FixedClock, SqliteStore
    from credits_core.registry import MemoryRegistryRepository

    if target.startswith("http"):
        from credits_core.stores.odoo import OdooStore

        store = OdooStore(target, "credits", "admin", "test-api-key")
    else:
        store = SqliteStore(target)
    # No plan (no monthly grant): the balance is exactly what the scenario tops up.
    service = CreditsService(store, MemoryRegistryRepository(), clock=FixedClock(clock_at), enforce=True, starter_plan="none")
    return service, store


def _threads(fn, items: list[Any]) -> None:
    chunks = [items[i::THREADS] for i in range(THREADS)]
    threads = [threading.Thread(target=lambda c=c: [fn(x) for x in c]) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _hold_worker(target: str, keys: list[str], out: Any) -> None:
    from credits_core.errors import CreditsError

    service, codes = _service(target)[0], Counter()

    def one(key: str) -> None:
        try:
            service.hold(USER, "comps_report", key, 1)  # 3 credits each
            codes["ok"] += 1
        except CreditsError as exc:
            codes[exc.code] += 1

    _threads(one, keys)
    out.put(dict(codes))


def _settle_worker(target: str, key: str, n: int, out: Any) -> None:
    from credits_core.errors import CreditsError

    service, answers = _service(target)[0], []

    def one(_: int) -> None:
        try:
            answers.append(service.settle(USER, key, 1).row.name)
        except CreditsError as exc:
            answers.append(exc.code)

    _threads(one, list(range(n)))
    out.put(answers)


def _in_two_processes(worker, args_per_process: list[tuple]) -> list[Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(*args, out)) for args in args_per_process]
    for p in procs:
        p.start()
    got = [out.get(timeout=900) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return got


def _rows_check(store) -> tuple[int, int, int]:
    """(credits held by active holds, balance, available) read back from the rows."""
    from credits_core.models import Account
    from credits_core.stores.base import RowFilter

    rows = list(reversed(store.rows(RowFilter(user_id=USER))))
    acc = Account(USER).with_rows(rows)
    return acc.held, acc.balance.total, acc.balance.total - acc.held


def _racing_holds(target: str, label: str, count: int) -> Any:
    from bench.reliability_support import Outcome

    service, store = _service(target)
    service.top_up(USER, "pack_100", "cs-holds", credits=300, price=1, currency="usd")  # 300 = 100 holds of 3
    service.state(USER, tail=0)
    keys = [f"race-{i}" for i in range(count)]
    got = _in_two_processes(_hold_worker, [(target, keys[0::2]), (target, keys[1::2])])
    codes = Counter()
    for c in got:
        codes.update(c)
    held, balance, available = _rows_check(store)
    active = held // 3
    ok = active == 100 and codes["ok"] == active and available >= 0 and balance >= 0
    return Outcome(
        f"{count:,} concurrent holds over credits for 100 ({label})",
        f"{count:,} holds of 3 credits, 2 processes × {THREADS} threads, a balance of 300 credits",
        "at most the balance held, available never negative",
        f"answers {dict(codes)}; active holds {active}; held {held}; balance {balance}; available {available}",
        0 if ok else max(1, codes["ok"] - active),
        ok,
    )


def racing_holds_sqlite(tmp: Path, clerk: Any, quick: bool) -> Any:
    return _racing_holds(str(tmp / "ledger.sqlite3"), "SQLite, 2 processes", 200 if quick else 1000)


def racing_holds_odoo(tmp: Path, clerk: Any, quick: bool) -> Any:
    from tests.standins.odoo import FakeOdoo

    with FakeOdoo(lifetime_s=2400) as odoo:
        return _racing_holds(odoo.url, "Odoo stand-in, 2 processes", 200 if quick else 1000)


def abandoned_holds_expire(tmp: Path, clerk: Any, quick: bool) -> Any:
    from bench.reliability_support import Outcome

    count = 200 if quick else 1000
    target = str(tmp / "ledger.sqlite3")
    service, _ = _service(target)
    service.top_up(USER, "pack_2000", "cs-abandon", credits=10 * count, price=1, currency="usd")
    _threads(lambda i: service.hold(USER, "comps_report", f"gone-{i}", 1), list(range(count)))
    before = service.state(USER, tail=0)
    later, later_store = _service(target, AT + timedelta(minutes=16))  # past the 15-minute time-to-live
    after = later.state(USER, tail=0)
    released = sum(1 for i in range(count) if later_store.find(f"CZ_SMCR|release|gone-{i}") is not None)
    held, balance, available = _rows_check(later_store)
    ok = len(before.holds) == count and not after.holds and released == count and held == 0 and available == balance
    return Outcome(
        f"{count:,} abandoned holds, time-to-live passed",
        f"{count:,} holds never settled; one read after 16 minutes",
        "every hold released by itself (a release row each), available = balance",
        f"active before {len(before.holds):,}; after {len(after.holds)}; release rows {released:,}; "
        f"held by the rows {held}; available {available} of {balance}",
        count - released,
        ok,
    )


def racing_settles(tmp: Path, clerk: Any, quick: bool) -> Any:
    from bench.reliability_support import Outcome

    target = str(tmp / "ledger.sqlite3")
    service, store = _service(target)
    service.state(USER, tail=0)
    service.top_up(USER, "pack_100", "cs-settle", credits=100, price=1, currency="usd")
    service.hold(USER, "comps_report", "once", 2)
    got = _in_two_processes(_settle_worker, [(target, "once", 5), (target, "once", 5)])
    answers = Counter(a for per in got for a in per)
    charges = [r for r in store.rows() if r.name == "CZ_SMCR|settle|once"]
    ok = len(charges) == 1 and answers == Counter({"CZ_SMCR|settle|once": 10})
    return Outcome(
        "the same settle key ×10 racing",
        "10 settles of one hold, 2 processes × 5 threads",
        "one charge; every answer the same settle row",
        f"charge rows {len(charges)}; answers {dict(answers)}",
        abs(len(charges) - 1),
        ok,
    )


def _pair_worker(target: str, prefix: str) -> None:
    """Hold + settle pairs until killed; prints each key once its settle is acknowledged."""
    import sys

    service, _ = _service(target)
    lock = threading.Lock()

    def loop(t: int) -> None:
        for i in range(1_000_000):
            key = f"{prefix}-{t}-{i}"
            service.hold(USER, "comps_report", key, 2)
            service.settle(USER, key, 1)
            with lock:
                sys.stdout.write(key + "\n")
                sys.stdout.flush()

    _threads(loop, list(range(THREADS)))


def sigkill_during_pairs(tmp: Path, clerk: Any, quick: bool) -> Any:
    import random
    import signal
    import subprocess
    import sys
    import time

    from bench.reliability_support import ROOT, Outcome
    from credits_core.models import Account
    from credits_core.stores.base import RowFilter

    target, kills = str(tmp / "ledger.sqlite3"), 5 if quick else 20
    service, _ = _service(target)
    service.top_up(USER, "pack_2000", "cs-kill", credits=10_000_000, price=1, currency="usd")
    acked: list[str] = []
    rng = random.Random(7)
    for k in range(kills):
        proc = subprocess.Popen(
            [sys.executable, "-c", f"from bench.reliability_holds import _pair_worker; _pair_worker({target!r}, 'k{k}')"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        first = proc.stdout.readline().strip()  # type: ignore[union-attr]  # the load is running
        time.sleep(0.5 + rng.random())
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=60)
        acked += [line for line in [first, *out.splitlines()] if line.strip()]
    _, store = _service(target)
    missing = sum(1 for key in acked if store.find(f"CZ_SMCR|settle|{key}") is None)
    rows = list(reversed(store.rows(RowFilter(user_id=USER))))
    derived, kept = Account(USER).with_rows(rows), store.account(USER)
    ok = missing == 0 and derived == kept and kept.balance.total >= 0
    return Outcome(
        "SIGKILL during hold / settle load (SQLite)",
        f"{kills} kills, {len(acked):,} acknowledged settles",
        "every acknowledged settle present; account = fold of the rows; never negative",
        f"missing {missing}; account matches rows {derived == kept}; open holds left {len(kept.holds)} (they expire)",
        missing,
        ok,
    )


SCENARIOS = {
    "holds-race-sqlite": racing_holds_sqlite,
    "holds-race-odoo": racing_holds_odoo,
    "holds-expire": abandoned_holds_expire,
    "holds-settle-race": racing_settles,
    "holds-sigkill": sigkill_during_pairs,
}
