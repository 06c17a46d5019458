"""Insights: replay of 100,000 ledger rows vs a pandas load of them; runway back-test coverage.

* **Replay** — ``CreditsService.replay`` over every row of the seeded
  ≥100k-row SQLite ledger (``tests/ledgers.py``, fixed end date) under a
  candidate with one changed tool cost, timed against a
  ``pandas.read_sql`` of the same rows in the same run (median of a few).
* **Runway back-test** — on the same ledger (warn-only, so running out is a
  visible ``shortfall`` row): for every user, at a cutoff every 7 days, the
  runway from what the ledger knew then; an *actual run-out* is the first
  uncovered use after the cutoff. Reported: the share of actual run-out
  dates inside the stated range (target ≥ 80 %).

    .venv/bin/python -m bench.bench_insights [--quick]
"""

from __future__ import annotations

import argparse
import bisect
import sqlite3
import statistics
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from bench.report import figure, text_table
from credits_core import CreditsService, SqliteStore
from credits_core.insights.runway import LOOKBACK_DAYS, estimate, usage_of
from credits_core.models import Account
from credits_core.policy.grants import current_plan
from credits_core.registry import MemoryRegistryRepository, apply_patch, load_default_registry, parse_registry
from credits_core.stores.base import iter_rows
from tests.ledgers import SEED_100K, seeded_ledger

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "test-artifacts" / "ops-bench"
ALL_TIME = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def _pandas_load(path: Path) -> float:
    started = time.perf_counter()
    with sqlite3.connect(path) as db:
        frame = pd.read_sql("SELECT * FROM ledger ORDER BY id", db)
    assert len(frame)
    return time.perf_counter() - started


def _replay(path: Path) -> tuple[float, int, int]:
    store = SqliteStore(path)
    service = CreditsService(store, MemoryRegistryRepository(), enforce=False)
    candidate = parse_registry(apply_patch(load_default_registry().to_json(), {"tools": [{"id": "ask_ai", "credits": 2}]}))
    started = time.perf_counter()
    report = service.replay(ALL_TIME, candidate)
    elapsed = time.perf_counter() - started
    store.close()
    return elapsed, report.rows, len(report.users)


def backtest(path: Path, step_days: int = 7) -> tuple[int, int]:
    """``(inside, cases)``: actual run-out dates inside the stated range, over cutoffs with one."""
    store = SqliteStore(path)
    registry = load_default_registry()
    by_user = defaultdict(list)
    for row in iter_rows(store):
        by_user[row.user_id].append(row)
    store.close()
    end = SEED_100K["end"]
    inside = cases = 0
    for rows in by_user.values():
        times = [r.created_at for r in rows]
        usage = usage_of(rows)
        use_times = [t for t, _ in usage]
        shorts = [r.created_at for r in rows if r.kind == "debit" and r.meta.get("shortfall")]
        acc, i = Account(rows[0].user_id), 0
        cutoff = times[0] + timedelta(days=14)
        while cutoff < end - timedelta(days=step_days):
            while i < len(rows) and times[i] < cutoff:
                acc = acc.with_rows([rows[i]])
                i += 1
            nxt = bisect.bisect_left(shorts, cutoff)
            if acc.balance.total > 0 and nxt < len(shorts):
                lo = bisect.bisect_left(use_times, cutoff - timedelta(days=LOOKBACK_DAYS))
                hi = bisect.bisect_left(use_times, cutoff)
                plan = current_plan(acc, registry)
                rw = estimate(usage[lo:hi], acc.balance, plan.monthly_included, plan.soft_cap, cutoff)
                if rw is not None and rw.low is not None:
                    cases += 1
                    actual = shorts[nxt].date()
                    first = (cutoff + timedelta(days=rw.low)).date()
                    last = None if rw.high is None else (cutoff + timedelta(days=rw.high)).date()
                    inside += first <= actual and (last is None or actual <= last)
            cutoff += timedelta(days=step_days)
    return inside, cases


def run(quick: bool = False) -> list[dict]:
    """The replay ratio and the back-test share."""
    cached, _ = seeded_ledger(CACHE)
    repeats = 1 if quick else 3
    _pandas_load(cached)  # warm the file cache
    replays = [_replay(cached) for _ in range(repeats)]
    loads = [_pandas_load(cached) for _ in range(repeats)]
    replay_s, load_s = statistics.median(r[0] for r in replays), statistics.median(loads)
    inside, cases = backtest(cached)
    share = inside / cases if cases else 0.0
    return [
        figure(
            f"Replay of {replays[0][1]:,} ledger rows ({replays[0][2]} users)",
            round(replay_s, 3),
            "s",
            baseline=round(load_s, 3),
            baseline_name="pandas.read_sql of the same rows",
            target="ratio <= 3",
            ok=replay_s / load_s <= 3,
        ),
        figure(
            f"Runway back-test: run-outs inside the stated range ({inside}/{cases} cases)",
            round(100 * share, 1),
            "%",
            target=">= 80 %",
            ok=share >= 0.8,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    print(text_table(run(quick=parser.parse_args().quick)))


if __name__ == "__main__":
    main()
