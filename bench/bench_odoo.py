"""Odoo store benchmark: round trips per operation and debits/s with 5 ms of latency.

Against the Odoo 19 stand-in (``tests/standins/odoo/``), over both
protocols. Round trips are the requests the stand-in received
(``FakeOdoo.calls()``) per warm ``state`` (targets ≤ 2) and per warm
``debit`` (≤ 3: the service's ``find`` of the key, ``create``, and the
verifying aggregate, the account being the copy this process verified).

Throughput: sequential warm debits with 5 ms added to every request, against
the best a client could do with that many round trips, measured in the same
run: a bare ``search_count`` loop gives the time of one round trip, and the
baseline is 1 / (3 × that time).

    .venv/bin/python -m bench.bench_odoo [--quick]      (or: .venv/bin/python bench/bench_odoo.py)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: python bench/bench_odoo.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import figure, text_table
from credits_core import CreditsService, FixedClock
from credits_core.registry import MemoryRegistryRepository
from credits_core.stores.odoo import OdooStore
from tests.standins.odoo import FakeOdoo

PROTOCOLS = ("jsonrpc", "json2")
LATENCY_S = 0.005
DB, LOGIN, KEY = "bench", "admin", "bench-api-key"
AT = "2026-01-15T12:00:00+00:00"


def _service(fake: FakeOdoo, protocol: str, **options: Any) -> tuple[CreditsService, OdooStore]:
    from datetime import datetime

    store = OdooStore(fake.url, DB, LOGIN, KEY, protocol=protocol, **options)
    clock = FixedClock(datetime.fromisoformat(AT))
    return CreditsService(store, MemoryRegistryRepository(), clock=clock), store


def _calls(fake: FakeOdoo, fn: Any) -> int:
    fake.reset_calls()
    fn()
    return len(fake.calls())


def measure(protocol: str, *, debits: int, timed: int) -> dict[str, float]:
    with FakeOdoo(db=DB, login=LOGIN, api_key=KEY, lifetime_s=600) as fake:
        service, store = _service(fake, protocol)
        try:
            service.change_plan("bench", "professional", request_id="setup")  # 1,500 credits: every debit covered
            service.state("bench")
            state_rt = [_calls(fake, lambda: service.state("bench")) for _ in range(5)]
            debit_rt = [_calls(fake, lambda i=i: service.debit("bench", "ask_ai", f"rt-{i}")) for i in range(debits)]
            fake.set_latency(LATENCY_S)
            one_rt = []
            for _ in range(timed):
                started = time.perf_counter()
                store._client.call("search_count", domain=[["id", "=", 0]])
                one_rt.append(time.perf_counter() - started)
            service.state("bench")
            started = time.perf_counter()
            for i in range(timed):
                service.debit("bench", "ask_ai", f"timed-{i}")
            elapsed = time.perf_counter() - started
            fake.set_latency(0)
            cold, cold_store = _service(fake, protocol, cache_s=0)  # no per-process copy of the account
            uncached_rt = [_calls(fake, lambda i=i: cold.debit("bench", "ask_ai", f"cold-{i}")) for i in range(5)]
            cold_store.close()
        finally:
            store.close()
    return {
        "uncached_debit_rt": statistics.mean(uncached_rt),
        "state_rt": statistics.mean(state_rt),
        "state_rt_max": max(state_rt),
        "debit_rt": statistics.mean(debit_rt),
        "debit_rt_max": max(debit_rt),
        "debits_per_s": timed / elapsed,
        "rt_s": statistics.median(one_rt),
    }


def run(quick: bool = False) -> list[dict[str, Any]]:
    figures = []
    for protocol in PROTOCOLS:
        m = measure(protocol, debits=10 if quick else 50, timed=20 if quick else 100)
        figures.append(
            figure(
                f"odoo {protocol}: round trips per warm state",
                m["state_rt"],
                "req",
                target="<= 2",
                ok=m["state_rt_max"] <= 2,
            )
        )
        figures.append(
            figure(
                f"odoo {protocol}: round trips per warm debit",
                m["debit_rt"],
                "req",
                target="<= 3",
                ok=m["debit_rt_max"] <= 3,
            )
        )
        figures.append(
            figure(
                f"odoo {protocol}: round trips per debit, cache_s=0",
                m["uncached_debit_rt"],
                "req",
                target="info: + 1 aggregate read",
            )
        )
        best = 1 / (3 * m["rt_s"])
        figures.append(
            figure(
                f"odoo {protocol}: debits/s at {LATENCY_S * 1000:.0f} ms latency",
                m["debits_per_s"],
                "ops/s",
                baseline=round(best, 1),
                baseline_name="1 / (3 x search_count round trip)",
                target=">= 0.7 x baseline",
                ok=m["debits_per_s"] >= 0.7 * best,
            )
        )
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="bench_odoo")
    parser.add_argument("--quick", action="store_true")
    print(text_table(run(quick=parser.parse_args().quick)))
