"""Two-phase debits: hold + settle pairs per second against plain debits per second, same run.

Both on ``CreditsService`` over one ``SqliteStore`` (``synchronous=FULL``),
``THREADS`` callers at once (the way a server calls it: group commit shares
each fsync), in alternating rounds so that load on the machine hits both alike.
Target: pairs/s ÷ debits/s ≥ 0.5 (a pair is two transactions).
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from credits_core import CreditsService, SqliteStore

from .report import figure

THREADS = 8
USERS = 8  # one user per thread: their rows never contend on a name


def _round(service: CreditsService, op, per_thread: int, tag: str) -> tuple[int, float]:
    done = [0] * THREADS

    def work(t: int) -> None:
        for i in range(per_thread):
            op(f"u{t % USERS}", f"{tag}-{t}-{i}")
            done[t] += 1

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    start = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return sum(done), time.perf_counter() - start


def hold_vs_debit(per_thread: int, rounds: int = 4) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="cz-bench-holds-"))
    try:
        store = SqliteStore(tmp / "holds.sqlite3")
        service = CreditsService(store)
        for u in range(USERS):
            service.top_up(f"u{u}", "pack_2000", f"cs-{u}", credits=10_000_000)

        def debit(user: str, key: str) -> None:
            service.debit(user, "comps_report", key)

        def pair(user: str, key: str) -> None:
            service.hold(user, "comps_report", key, 2)
            service.settle(user, key, 1)

        _round(service, debit, 5, "warm-d")
        _round(service, pair, 5, "warm-p")
        totals = {"debit": [0, 0.0], "pair": [0, 0.0]}
        for r in range(rounds):
            for name, op in (("debit", debit), ("pair", pair)):
                n, s = _round(service, op, per_thread, f"{name}-{r}")
                totals[name][0] += n
                totals[name][1] += s
        store.close()
        return {
            "debits_s": totals["debit"][0] / totals["debit"][1],
            "pairs_s": totals["pair"][0] / totals["pair"][1],
            "pairs": totals["pair"][0],
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def work_per_call(calls: int) -> dict[str, float]:
    """Median µs of a debit, a hold and a settle, interleaved on one thread with the fsync left out.

    ``synchronous=OFF`` on the one connection: what remains is each call's own
    work (Python and SQLite), the part a shared fsync cannot hide.
    """
    tmp = Path(tempfile.mkdtemp(prefix="cz-bench-work-"))
    try:
        store = SqliteStore(tmp / "work.sqlite3")
        service = CreditsService(store)
        service.top_up("u", "pack_2000", "cs", credits=10_000_000)
        times: dict[str, list[float]] = {"debit": [], "hold": [], "settle": []}
        with store.relaxed_durability():
            for i in range(calls):
                a = time.perf_counter()
                service.debit("u", "comps_report", f"d-{i}")
                b = time.perf_counter()
                service.hold("u", "comps_report", f"h-{i}", 2)
                c = time.perf_counter()
                service.settle("u", f"h-{i}", 1)
                d = time.perf_counter()
                times["debit"].append(b - a)
                times["hold"].append(c - b)
                times["settle"].append(d - c)
        store.close()
        return {k: statistics.median(v) * 1e6 for k, v in times.items()}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(quick: bool = False) -> list[dict[str, Any]]:
    got = hold_vs_debit(per_thread=10 if quick else 40)
    work = work_per_call(500 if quick else 3000)
    return [
        figure(
            f"work of a hold + settle pair (hold {work['hold']:.0f} + settle {work['settle']:.0f} µs; "
            "one thread, fsync left out)",
            round(work["hold"] + work["settle"]),
            "µs",
            baseline=round(2 * work["debit"]),
            baseline_name=f"two debits ({work['debit']:.0f} µs each)",
        ),
        figure(
            f"hold + settle pairs/s, CreditsService on SqliteStore ({got['pairs']:,} pairs, {THREADS} threads)",
            round(got["pairs_s"]),
            "pairs/s",
            baseline=round(got["debits_s"]),
            baseline_name=f"plain debits/s, same store, {THREADS} threads",
            target="ratio >= 0.5",
            ok=got["pairs_s"] / got["debits_s"] >= 0.5,
        ),
    ]
