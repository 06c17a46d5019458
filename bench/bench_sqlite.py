"""SQLite ledger benchmarks, each against a baseline measured in the same run.

1. Debits per second through ``CreditsService`` on ``SqliteStore`` (a fresh
   file, one user with a large purchased balance, a new key per debit) versus
   raw ``sqlite3`` inserts of equivalent rows, one commit each, with the same
   pragmas and schema. Target: service ≥ 0.5 × raw. Both pay one durable
   commit (``synchronous=FULL``) per debit, so the ratio shows what the engine
   adds on top of the disk.
2. ``state()`` latency (median, ``tail=20``) of a user with 1,000 rows versus
   one with 1,000,000 rows (100,000 with ``quick``). Target: ≤ 2× apart,
   i.e. reading a balance never scans history.

    python -m bench.bench_sqlite [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from credits_core import CreditsService, FixedClock, SqliteStore
from credits_core.clock import add_months, month_of
from credits_core.models import Account, Balance, Row
from credits_core.registry import load_default_registry
from credits_core.stores import RowFilter
from credits_core.stores.sqlite.group_commit import write_account
from credits_core.stores.sqlite.schema import PRAGMAS, ROW_COLS, SCHEMA, from_row, to_row

try:
    from .report import figure, text_table
except ImportError:  # run as a script: python bench/bench_sqlite.py
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.report import figure, text_table

REGISTRY = load_default_registry()


# -- 1. debit throughput ----------------------------------------------------------


def _raw_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    conn.executescript(SCHEMA)
    return conn


def _raw_debit_row(i: int) -> tuple[Any, ...]:
    """What the service writes for one debit: the same columns and a meta of the same shape."""
    row = Row(
        f"CZ_SMCR|debit|raw-{i}",
        "bench_user",
        "debit",
        -1,
        0,
        datetime.now(UTC),
        {
            "tool": "ask_ai",
            "cost": 1,
            "registryVersion": 1,
            "plan": "base",
            "month": month_of(datetime.now(UTC)),
            "balanceAfter": {"total": 10_000_000 - i, "included": 0, "purchased": 10_000_000 - i},
        },
    )
    return (*from_row(row), "ask_ai")


def debit_throughput(n: int, max_seconds: float, rounds: int = 4) -> dict[str, Any]:
    """Alternate rounds of service debits and raw inserts (load on the box hits both alike)."""
    tmp = Path(tempfile.mkdtemp(prefix="cz-bench-"))
    try:
        store = SqliteStore(tmp / "service.sqlite3")
        service = CreditsService(store)
        service.top_up("bench_user", "pack_2000", "cs_bench", credits=10_000_000)
        raw = _raw_connection(tmp / "raw.sqlite3")
        for i in range(20):  # warm up both paths
            service.debit("bench_user", "ask_ai", f"warm-{i}")
            raw.execute(_INSERT, _raw_debit_row(-i - 1))
        per_round, budget = max(1, n // rounds), max_seconds / (2 * rounds)
        done = {"service": 0, "raw": 0}
        spent = {"service": 0.0, "raw": 0.0}
        for _ in range(rounds):
            start, i = time.perf_counter(), done["service"]
            while done["service"] - i < per_round and time.perf_counter() - start < budget:
                service.debit("bench_user", "ask_ai", f"k-{done['service']}")
                done["service"] += 1
            spent["service"] += time.perf_counter() - start
            start, i = time.perf_counter(), done["raw"]
            while done["raw"] - i < per_round and time.perf_counter() - start < budget:
                raw.execute(_INSERT, _raw_debit_row(done["raw"]))  # autocommit: one transaction each
                done["raw"] += 1
            spent["raw"] += time.perf_counter() - start
        raw.close()
        store.close()
        return {
            "service": done["service"] / spent["service"],
            "raw": done["raw"] / spent["raw"],
            "debits": done["service"],
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- 2. state() latency by history size -------------------------------------------


_TOOL_MIX = (
    ["ask_ai"] * 6
    + ["price_history"] * 2
    + [
        "comps_report",
        "data_export",
        "ask_ai_deep",
        "document_extract",
        "valuation_model",
        "portfolio_scan",
    ]
)
_INSERT = f"INSERT INTO ledger ({ROW_COLS}, tool) VALUES (?,?,?,?,?,?,?,?)"


def _bal(included: int, purchased: int) -> str:
    return f'{{"included":{included},"purchased":{purchased},"total":{included + purchased}}}'


def _history(user: str, n: int, end: datetime) -> Iterator[tuple[Any, ...]]:
    """``n`` ledger tuples of a heavy Professional user, oldest first, ending before ``end``.

    The rows are what the service would write (same names, columns and meta
    JSON): a Base grant, an upgrade to Professional, then each month a grant
    (capped by the soft cap) and debits of every tool, included credits first,
    with a 2,000-credit top-up whenever the balance runs short. Built with
    plain arithmetic and string templates: the policy functions are far too
    slow for a million rows, and ``build_user`` checks the result against
    ``Account.with_rows`` and SQL sums.
    """
    pro = REGISTRY.plan("professional")
    costs = {t.id: t.credits for t in REGISTRY.tools}
    months = max(2, -(-n // 20_000))
    per_month = -(-n // months)
    start = add_months(end, -(months - 1)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    inc = pur = written = seq = 0

    def ts(at: datetime) -> str:
        return at.strftime("%Y-%m-%d %H:%M:%S.%f")

    for m in range(months):
        month_start = add_months(start, m)
        month = month_of(month_start)
        stamp = ts(month_start)
        if m == 0:  # a new user on Base, who upgrades at once
            inc = 100
            yield (
                f"CZ_SMCR|grant|{user}|{month}",
                user,
                "grant",
                100,
                100,
                stamp,
                f'{{"month":"{month}","peak":100,"plan":"base","registryVersion":1}}',
                None,
            )
            yield (
                f"CZ_SMCR|plan|{user}|bench",
                user,
                "plan",
                0,
                0,
                stamp,
                f'{{"month":"{month}","peak":1500,"plan":"professional","previousPlan":"base","registryVersion":1}}',
                None,
            )
            inc += 1400
            yield (
                f"CZ_SMCR|upgrade|{user}|{month}|professional",
                user,
                "upgrade",
                1400,
                1400,
                stamp,
                f'{{"month":"{month}","peak":1500,"plan":"professional","previousPlan":"base","registryVersion":1}}',
                None,
            )
            written += 3
        else:
            amount = max(0, min(pro.monthly_included, pro.soft_cap - inc))
            inc += amount
            yield (
                f"CZ_SMCR|grant|{user}|{month}",
                user,
                "grant",
                amount,
                amount,
                stamp,
                f'{{"month":"{month}","peak":1500,"plan":"professional","registryVersion":1}}',
                None,
            )
            written += 1
        span = min(end, add_months(month_start, 1)) - month_start
        count = min(per_month, n - written)
        step = span / max(count + 1, 1)
        at = month_start
        for _ in range(count):
            at += step
            stamp = ts(at)
            tool = _TOOL_MIX[seq % len(_TOOL_MIX)]
            cost = costs[tool]
            seq += 1
            if inc + pur < cost:
                pur += 2000
                yield (
                    f"CZ_SMCR|topup|cs_{user}_{seq}",
                    user,
                    "topup",
                    2000,
                    0,
                    stamp,
                    f'{{"balanceAfter":{_bal(inc, pur)},"credits":2000,"currency":"usd","month":"{month}",'
                    f'"pack":"pack_2000","price":20000,"reference":"cs_{user}_{seq}","registryVersion":1}}',
                    None,
                )
            else:
                from_inc = min(cost, inc)
                inc -= from_inc
                pur -= cost - from_inc
                yield (
                    f"CZ_SMCR|debit|{user}-{seq}",
                    user,
                    "debit",
                    -cost,
                    -from_inc,
                    stamp,
                    f'{{"balanceAfter":{_bal(inc, pur)},"cost":{cost},"month":"{month}","plan":"professional",'
                    f'"registryVersion":1,"tool":"{tool}"}}',
                    tool,
                )
            written += 1
        if written >= n:
            return


def build_user(conn: sqlite3.Connection, user: str, n: int, end: datetime, chunk: int = 50_000) -> Account:
    """Bulk-insert ``n`` rows of ``user`` and a consistent ``accounts`` row, in one transaction.

    The account is ``Account.with_rows`` of the structural rows (grants,
    plan, upgrade, which alone move the month state) with the balance and
    row count of all rows; SQL sums over the inserted rows must agree.
    """
    conn.execute("BEGIN")
    structural: list[Row] = []
    batch: list[tuple[Any, ...]] = []
    inc = total = rows = 0
    for t in _history(user, n, end):
        batch.append(t)
        rows += 1
        total += t[3]
        inc += t[4]
        if t[2] not in ("debit", "topup"):
            structural.append(to_row(t))
        if len(batch) == chunk:
            conn.executemany(_INSERT, batch)
            batch = []
    conn.executemany(_INSERT, batch)
    folded = Account(user).with_rows(structural)
    acc = replace(folded, balance=Balance(inc, total - inc), rows=rows)
    sums = conn.execute(
        "SELECT count(*), sum(delta), sum(included_delta) FROM ledger WHERE user_id=?", (user,)
    ).fetchone()
    assert sums == (rows, total, inc), (sums, acc)
    assert acc.plan == "professional" and acc.balance.included >= 0 and acc.balance.purchased >= 0
    write_account(conn, acc)
    conn.execute("COMMIT")
    return acc


def state_latency(small: int, big: int, calls: int = 400) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="cz-bench-"))
    try:
        end = datetime.now(UTC).replace(microsecond=0)
        path = tmp / "ledger.sqlite3"
        store = SqliteStore(path)
        conn = store._conn()
        built = time.perf_counter()
        with store.relaxed_durability():
            accounts = {
                "small": build_user(conn, "small_user", small, end),
                "big": build_user(conn, "big_user", big, end),
            }
        built = time.perf_counter() - built
        service = CreditsService(store, clock=FixedClock(end))
        for acc in accounts.values():  # the bulk-built state is what the service reads
            assert service.state(acc.user_id, tail=20).balance == acc.balance
        small_rows = list(reversed(store.rows(RowFilter(user_id="small_user"))))
        assert Account("small_user").with_rows(small_rows) == accounts["small"]  # fully derived: same account
        timings: dict[str, list[float]] = {"small": [], "big": []}
        for _ in range(calls):  # interleaved, so both see the same machine
            for key, acc in accounts.items():
                start = time.perf_counter()
                service.state(acc.user_id, tail=20)
                timings[key].append(time.perf_counter() - start)
        rows = conn.execute("SELECT count(*) FROM ledger").fetchone()[0]
        store.close()
        return {
            "small_ms": statistics.median(timings["small"]) * 1000,
            "big_ms": statistics.median(timings["big"]) * 1000,
            "big_p95_ms": statistics.quantiles(timings["big"], n=20)[-1] * 1000,
            "rows": rows,
            "build_s": built,
            "file_mb": path.stat().st_size / 1e6,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- entry ------------------------------------------------------------------------


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Every figure of this module (``quick``: smaller sizes for a CI smoke run)."""
    debits = debit_throughput(n=400 if quick else 2000, max_seconds=4 if quick else 10)
    ratio = debits["service"] / debits["raw"]
    big = 100_000 if quick else 1_000_000
    latency = state_latency(small=1_000, big=big, calls=200 if quick else 400)
    spread = latency["big_ms"] / latency["small_ms"]
    return [
        figure(
            f"debits/s, CreditsService on SqliteStore ({debits['debits']:,} debits)",
            round(debits["service"], 1),
            "debits/s",
            baseline=round(debits["raw"], 1),
            baseline_name="raw sqlite3 insert, 1 commit each",
            target="ratio >= 0.5",
            ok=ratio >= 0.5,
        ),
        figure(
            f"state(tail=20) median, user with {big:,} rows",
            round(latency["big_ms"], 3),
            "ms",
            baseline=round(latency["small_ms"], 3),
            baseline_name="user with 1,000 rows",
            target="ratio <= 2",
            ok=spread <= 2,
        ),
        figure(f"state(tail=20) p95, user with {big:,} rows", round(latency["big_p95_ms"], 3), "ms"),
        figure(
            f"bulk build of {latency['rows']:,} rows ({latency['file_mb']:,.0f} MB file)",
            round(latency["build_s"], 1),
            "s",
        ),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.bench_sqlite")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    args = parser.parse_args()
    print(text_table(run(quick=args.quick)))
