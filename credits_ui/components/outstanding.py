"""Ops overview: outstanding credits over time (included / purchased), their value, credits in vs out.

The series comes from ``service.outstanding`` (one SQL aggregate per day plus
the top-up rows for the price paid); the table under the charts is the same
frame, so what is drawn can be checked and exported.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from .export import export_button

BUCKET_COLORS = {"included": "#2F5BEA", "purchased": "#29A36A"}


def _stock_chart(frame: pd.DataFrame) -> alt.Chart:
    data = frame.melt(
        id_vars=["day", "purchasedValue", "outstanding"],
        value_vars=["included", "purchased"],
        var_name="bucket",
        value_name="credits",
    )
    return (
        alt.Chart(data)
        .mark_area(interpolate="step-after", opacity=0.85)
        .encode(
            x=alt.X("day:T", title=None, axis=alt.Axis(format="%b %d", labelAngle=0)),
            y=alt.Y("credits:Q", stack="zero", title="Outstanding credits"),
            color=alt.Color(
                "bucket:N",
                title="Bucket",
                sort=["included", "purchased"],
                scale=alt.Scale(domain=list(BUCKET_COLORS), range=list(BUCKET_COLORS.values())),
            ),
            tooltip=[
                alt.Tooltip("day:T", title="Day"),
                alt.Tooltip("bucket:N", title="Bucket"),
                alt.Tooltip("credits:Q", title="Credits", format=","),
                alt.Tooltip("outstanding:Q", title="All outstanding", format=","),
                alt.Tooltip("purchasedValue:Q", title="Purchased, at price paid", format=",.2f"),
            ],
        )
        .properties(height=260)
    )


def _flow_chart(frame: pd.DataFrame) -> alt.Chart:
    data = frame.melt(id_vars=["day"], value_vars=["creditsIn", "creditsOut"], var_name="flow", value_name="credits")
    data["flow"] = data["flow"].map({"creditsIn": "in", "creditsOut": "out"})
    return (
        alt.Chart(data[data["credits"] != 0])
        .mark_bar()
        .encode(
            x=alt.X("yearmonthdate(day):T", title=None, axis=alt.Axis(format="%b %d", labelAngle=0)),
            y=alt.Y("sum(credits):Q", title="Credits in (+) / out (−)"),
            color=alt.Color(
                "flow:N", title="Flow", scale=alt.Scale(domain=["in", "out"], range=["#29A36A", "#E4572E"])
            ),
            tooltip=[
                alt.Tooltip("yearmonthdate(day):T", title="Day"),
                alt.Tooltip("flow:N", title="Flow"),
                alt.Tooltip("sum(credits):Q", title="Credits", format=","),
            ],
        )
        .properties(height=260)
    )


def outstanding_overview(frame: pd.DataFrame, *, key: str = "cz_ops_outstanding") -> None:
    """Metrics of the last day, the stacked stock chart, in vs out per day, and the table behind them."""
    st.subheader("Outstanding credits", anchor=False)
    if frame.empty:
        st.caption("No ledger rows yet.")
        return
    last = frame.iloc[-1]
    cols = st.columns(4)
    cols[0].metric("Outstanding credits", f"{int(last['outstanding']):,}", border=True)
    cols[1].metric("Included", f"{int(last['included']):,}", border=True, help="Granted by plans")
    cols[2].metric("Purchased", f"{int(last['purchased']):,}", border=True, help="Bought as top-up packs")
    cols[3].metric(
        "Purchased, at price paid",
        f"{float(last['purchasedValue']):,.2f}",
        border=True,
        help="Purchased credits outstanding × average price paid per credit: the deferred revenue finance carries",
    )
    c1, c2 = st.columns([3, 2], gap="large")
    c1.altair_chart(_stock_chart(frame), width="stretch")
    c2.altair_chart(_flow_chart(frame), width="stretch")
    with st.expander("Outstanding credits by day (table)", icon=":material/table:"):
        st.dataframe(
            frame,
            hide_index=True,
            key=key,
            column_config={
                "day": st.column_config.DateColumn("Day (UTC)"),
                "purchasedValue": st.column_config.NumberColumn("Purchased, at price paid", format="%.2f"),
            },
        )
        export_button(frame, "outstanding-credits.csv", label="Export outstanding (CSV)", key=f"{key}_export")
