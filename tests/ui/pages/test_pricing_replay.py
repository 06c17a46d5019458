"""Pricing preview → Replay real usage: table, charts, CSV; a what-if edit moves the candidate side."""

from __future__ import annotations

from datetime import UTC, datetime

from streamlit.testing.v1 import AppTest

from credits_core import FixedClock
from credits_core.seed import seed_demo

from ..helpers import assert_clean, click, demo_service, messages, open_page, signed_in

END = datetime(2026, 11, 20, 12, tzinfo=UTC)  # the last full month is October 2026


def _summary(at: AppTest):
    return next(d.value for d in at.dataframe if "Plan" in d.value.columns and "Users" in d.value.columns)


def test_replay_renders_table_charts_and_export(demo: AppTest) -> None:
    service = demo_service(demo)
    service.clock = FixedClock(END)
    seed_demo(service, users=8, months=3, seed=7, end=END)
    open_page(demo, "pages/pricing_preview.py")
    assert "Press **Replay**" in " ".join(c.value for c in demo.caption)
    click(demo, "Replay")
    table = _summary(demo)
    overall = table[table["Plan"] == "All plans"].iloc[0]
    assert overall["Users"] == 8
    assert overall["Credits left at the end · Actual"] == overall["Credits left at the end · Candidate"]
    assert len(demo.get("vega_lite_chart")) == 3  # personas chart + revenue + run-outs
    assert {b.label for b in demo.get("download_button")} >= {"Export comparison (CSV)", "Export per user (CSV)"}
    assert demo.metric[-1].value == "8 / 8"

    demo.session_state["cz_price_tools"] = {"edited_rows": {0: {"Credits": 3}}, "added_rows": [], "deleted_rows": []}
    demo.run()
    assert_clean(demo)
    assert "price list or the window changed" in messages(demo)
    click(demo, "Replay")
    overall = _summary(demo).set_index("Plan").loc["All plans"]
    assert overall["Credits left at the end · Candidate"] < overall["Credits left at the end · Actual"]
    assert service.registry.tool("ask_ai").credits == 1  # nothing saved


def test_signed_in_non_admin_cannot_replay_the_server_ledger() -> None:
    at = signed_in()
    open_page(at, "pages/pricing_preview.py")
    assert "Replaying the server ledger is for admins" in messages(at)
    assert not [b for b in at.button if b.label == "Replay"]
