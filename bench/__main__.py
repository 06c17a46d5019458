"""``python -m bench [--quick] [--only NAME]``: run every benchmark, print one table."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback

from .report import figure, text_table, write_results

MODULES = ("bench_sqlite", "bench_http", "bench_odoo", "bench_ui", "bench_memory", "bench_insights", "bench_export", "bench_holds")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--only", action="append", choices=MODULES)
    args = parser.parse_args()
    figures, failed = [], False
    for name in args.only or MODULES:
        started = time.monotonic()
        print(f"== {name} ...", flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
            got = module.run(quick=args.quick)
        except Exception as exc:  # a broken benchmark is reported, the others still run
            traceback.print_exc()
            got = [figure(f"{name} failed: {type(exc).__name__}", 0, "", ok=False)]
            failed = True
        figures += got
        print(f"   {name}: {len(got)} figures in {time.monotonic() - started:.0f} s", flush=True)
    print()
    print(text_table(figures))
    path = write_results("bench", figures)
    print(f"\nwritten: {path} and {path.with_suffix('.json')}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
