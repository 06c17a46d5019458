"""CSV export of exactly the table that is on screen (``st.download_button``).

Docs: https://docs.streamlit.io/develop/api-reference/widgets/st.download_button
— ``on_click="ignore"`` keeps a download from rerunning the app.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV without the index; datetimes in ISO 8601."""
    return frame.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%SZ").encode("utf-8")


def export_button(frame: pd.DataFrame, file_name: str, *, label: str = "Export CSV", key: str | None = None) -> None:
    """A download button for ``frame`` (disabled when it is empty)."""
    st.download_button(
        label,
        data=to_csv_bytes(frame),
        file_name=file_name,
        mime="text/csv",
        icon=":material/download:",
        key=key,
        on_click="ignore",
        disabled=frame.empty,
        help=f"{len(frame):,} row(s), as shown",
    )
