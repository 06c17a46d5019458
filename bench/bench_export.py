"""Chained export and verify of a large ledger, against a plain CSV export of the same rows.

A SQLite ledger of 1,000,000 rows (100,000 with ``quick``) is bulk-built
(``bench_sqlite.build_user``). Then, in the same run:

1. ``export_chain`` (canonical JSON + SHA-256 chain, streamed from
   ``iter_rows``, plus the checkpoint row) versus a plain CSV export of the
   same rows streamed the same way (``csv.writer``, the CLI's CSV columns); best of two, interleaved;
2. ``verify_file`` (parse, re-canonicalise and re-hash every row, look the
   checkpoint up) versus reading that CSV back (``csv.reader`` + the meta JSON),
   informational: verifying necessarily costs a parse and a hash per row.

    python -m bench.bench_export [--quick]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from credits_core import CreditsService, FixedClock, SqliteStore
from credits_core.export import export_chain, verify_file

try:
    from .bench_sqlite import build_user
    from .report import figure, text_table
except ImportError:  # run as a script: python bench/bench_export.py
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.bench_sqlite import build_user
    from bench.report import figure, text_table


def _csv_export(service: CreditsService, path: Path) -> int:
    n = 0
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["createdAt", "name", "userId", "kind", "bucket", "delta", "includedDelta", "purchasedDelta", "meta"])
        for r in service.iter_rows():
            writer.writerow([r.created_at.isoformat(), r.name, r.user_id, r.kind, r.bucket, r.delta, r.included_delta,
                             r.purchased_delta, json.dumps(r.meta, sort_keys=True)])
            n += 1
    return n


def _csv_read(path: Path) -> int:
    """Read the plain export back as a consumer would: every row, its meta parsed."""
    with open(path, newline="") as fh:
        rows = csv.reader(fh)
        next(rows)
        return sum(1 for r in rows if isinstance(json.loads(r[8]), dict))


def measure(n: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="cz-bench-export-"))
    try:
        end = datetime.now(UTC).replace(microsecond=0)
        store = SqliteStore(tmp / "ledger.sqlite3")
        with store.relaxed_durability():
            build_user(store._conn(), "export_user", n, end)
        service = CreditsService(store, clock=FixedClock(end))
        csv_s = chain_s = float("inf")
        for _ in range(2):  # interleaved, best of two: both see the same (noisy, shared) machine and cache
            t = time.perf_counter()
            csv_rows = _csv_export(service, tmp / "plain.csv")
            csv_s = min(csv_s, time.perf_counter() - t)
            t = time.perf_counter()
            with open(tmp / "chain.jsonl", "wb") as out:
                head = export_chain(service, out)
            chain_s = min(chain_s, time.perf_counter() - t)
        t = time.perf_counter()
        read_rows = _csv_read(tmp / "plain.csv")
        read_s = time.perf_counter() - t
        t = time.perf_counter()
        verdict = verify_file(service, tmp / "chain.jsonl")
        verify_s = time.perf_counter() - t
        assert verdict.ok and verdict.rows == head.rows == csv_rows == read_rows, verdict
        sizes = ((tmp / "chain.jsonl").stat().st_size / 1e6, (tmp / "plain.csv").stat().st_size / 1e6)
        store.close()
        return {"rows": head.rows, "chain_s": chain_s, "csv_s": csv_s, "verify_s": verify_s, "read_s": read_s,
                "chain_mb": sizes[0], "csv_mb": sizes[1]}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Every figure of this module (``quick``: 100,000 rows)."""
    m = measure(100_000 if quick else 1_000_000)
    rows = m["rows"]
    return [
        figure(f"chained export of {rows:,} rows (+ checkpoint)", round(m["chain_s"], 2), "s",
               baseline=round(m["csv_s"], 2), baseline_name="plain CSV export, same rows", target="ratio <= 3",
               ok=m["chain_s"] <= 3 * m["csv_s"]),
        figure("chained export rows/s", round(rows / m["chain_s"]), "rows/s",
               baseline=round(rows / m["csv_s"]), baseline_name="plain CSV export"),
        figure(f"verify of {rows:,} rows", round(m["verify_s"], 2), "s",
               baseline=round(m["read_s"], 2), baseline_name="reading the plain CSV back (csv + meta JSON)"),
        figure("verify rows/s", round(rows / m["verify_s"]), "rows/s",
               baseline=round(rows / m["read_s"]), baseline_name="reading the plain CSV back"),
        figure("chained export file size", round(m["chain_mb"], 1), "MB",
               baseline=round(m["csv_mb"], 1), baseline_name="plain CSV"),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.bench_export")
    parser.add_argument("--quick", action="store_true", help="100,000 rows (a smoke run)")
    args = parser.parse_args()
    print(text_table(run(quick=args.quick)))
