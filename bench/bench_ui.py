"""Ops page render time on 100,000 ledger rows vs loading the same rows into pandas.

Value: a cold render of the Ops ledger page through Streamlit's ``AppTest``
(caches cleared, admin unlocked, charts and tables drawn from SQL
aggregates). Baseline, same run: ``pandas.read_sql`` of every ledger row of
the same file. Target: ratio ≤ 3 — the page must cost no more than a few
plain loads of the data it summarises.

    .venv/bin/python -m bench.bench_ui [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit.testing.v1 import AppTest

from bench.report import figure, text_table
from tests.ledgers import seeded_ledger

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "test-artifacts" / "ops-bench"
SECRET = "bench-ui-admin-secret"


def _pandas_load(path: Path) -> float:
    started = time.perf_counter()
    with sqlite3.connect(path) as db:
        frame = pd.read_sql("SELECT * FROM ledger", db)
    elapsed = time.perf_counter() - started
    assert len(frame) > 0
    return elapsed


def _render(path: Path) -> float:
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.user = {"is_logged_in": False}
    at.run()
    at.switch_page("pages/ops_ledger.py").run()
    at.text_input(key="cz_ops_unlock_secret").input(SECRET)
    at.button(key="FormSubmitter:cz_ops_unlock_form-Unlock").click()
    started = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - started
    if at.exception or len(at.get("vega_lite_chart")) < 3:
        raise RuntimeError(f"Ops page did not render: {[e.value for e in at.exception]}")
    return elapsed


def run(quick: bool = False) -> list[dict]:
    """Median of a few cold renders vs median pandas loads of the same file."""
    cached, rows = seeded_ledger(CACHE)
    repeats = 2 if quick else 5
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp:
        ledger = Path(tmp) / "ledger.sqlite3"
        shutil.copy(cached, ledger)
        saved = {k: os.environ.get(k) for k in ("CZ_LEDGER_PATH", "CZ_REGISTRY_ADMIN_SECRET")}
        os.environ.update(CZ_LEDGER_PATH=str(ledger), CZ_REGISTRY_ADMIN_SECRET=SECRET)
        try:
            from credits_core.runtime import reset_shared

            reset_shared()
            _render(ledger)  # warm the imports, not the data caches
            renders = [_render(ledger) for _ in range(repeats)]
            loads = [_pandas_load(ledger) for _ in range(repeats)]
            reset_shared()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    render, load = statistics.median(renders), statistics.median(loads)
    return [
        figure(
            f"Ops page cold render, {rows:,} rows",
            round(render, 3),
            "s",
            baseline=round(load, 3),
            baseline_name="pandas.read_sql of all rows",
            target="ratio <= 3",
            ok=render / load <= 3,
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    print(text_table(run(quick=parser.parse_args().quick)))


if __name__ == "__main__":
    main()
