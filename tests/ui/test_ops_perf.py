"""How long the Ops ledger page takes to render on a 100,000-row SQLite ledger.

The ledger comes from ``tests/ledgers.py`` (seeded through the real service
once, cached under ``test-artifacts/``). The figure is printed and written to
``test-artifacts/ops-render-timing.txt``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.ledgers import seeded_ledger

from .helpers import assert_clean, metric, new_app

TARGET_ROWS = 100_000
SECRET = "ops-secret-for-timing"


@pytest.mark.slow
def test_ops_page_render_time_on_100k_rows(
    artifacts_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cached, rows = seeded_ledger(artifacts_dir / "ops-bench")
    assert rows >= TARGET_ROWS
    ledger = tmp_path / "ops-100k.sqlite3"
    shutil.copy(cached, ledger)
    monkeypatch.setenv("CZ_LEDGER_PATH", str(ledger))
    monkeypatch.setenv("CZ_REGISTRY_ADMIN_SECRET", SECRET)

    at = new_app().run()
    at.switch_page("pages/ops_ledger.py").run()
    at.text_input(key="cz_ops_unlock_secret").input(SECRET)
    at.button(key="FormSubmitter:cz_ops_unlock_form-Unlock").click()
    started = time.perf_counter()
    at.run()  # unlock → first render of the server ledger (cold cache)
    cold = time.perf_counter() - started
    assert_clean(at)
    assert int(metric(at, "Ledger rows").replace(",", "")) == rows
    assert len(at.get("vega_lite_chart")) == 3

    started = time.perf_counter()
    at.run()  # any widget change reruns the page; queries come from st.cache_data
    warm = time.perf_counter() - started

    at.selectbox(key="cz_ops_user").set_value("user_0007")
    started = time.perf_counter()
    at.run()  # a new filter value is a cache miss again (SQL aggregates for one user)
    filtered = time.perf_counter() - started
    assert_clean(at)

    line = (
        f"Ops ledger render on {rows:,} SQLite rows: cold {cold:.2f} s, warm (cached) {warm:.2f} s, "
        f"new user filter {filtered:.2f} s"
    )
    (artifacts_dir / "ops-render-timing.txt").write_text(line + "\n")
    with capsys.disabled():  # a figure to read, not a timed assertion (bench/bench_ui.py compares it)
        print(f"\n{line}")
