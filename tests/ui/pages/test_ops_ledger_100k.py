"""The Ops ledger page on a 100,000-row SQLite ledger: it renders, cached and filtered.

The ledger comes from ``tests/ledgers.py`` (seeded through the real service
once, cached under ``test-artifacts/``). How long it takes is measured by
``bench/bench_ui.py`` only (machines here are noisy; no timing in tests).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.ledgers import seeded_ledger

from ..helpers import assert_clean, metric, new_app

TARGET_ROWS = 100_000
SECRET = "ops-secret-for-timing"


@pytest.mark.slow
def test_ops_page_renders_100k_rows_cached_and_filtered(
    artifacts_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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
    at.run()  # unlock → first render of the server ledger (cold cache)
    assert_clean(at)
    assert int(metric(at, "Ledger rows").replace(",", "")) == rows
    assert len(at.get("vega_lite_chart")) == 3

    at.run()  # any widget change reruns the page; queries come from st.cache_data
    assert int(metric(at, "Ledger rows").replace(",", "")) == rows

    at.selectbox(key="cz_ops_user").set_value("user_0007")
    at.run()  # a new filter value is a cache miss again (SQL aggregates for one user)
    assert_clean(at)
    assert 0 < int(metric(at, "Ledger rows").replace(",", "")) < rows
