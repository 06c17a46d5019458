"""Ops "Chained export": the whole ledger as a tamper-evident JSON Lines file, plus its ledger checkpoint.

Calls ``credits_core.export.export_chain`` (which writes the checkpoint row
through the service). Very large ledgers are better exported with
``credits export --chain FILE``, which streams to disk.
"""

from __future__ import annotations

import io

import streamlit as st

from credits_core import CreditsService
from credits_core.export import export_chain

from .errors import capture, show_error

KEY = "cz_chain"


def chain_export(service: CreditsService, *, ledger: str) -> None:
    """A button that builds the chained export and writes its checkpoint; then a download button."""
    if st.button(
        "Chained export (JSON Lines)",
        icon=":material/link:",
        key=f"{KEY}_make",
        help="Every row with a SHA-256 chain; writes a checkpoint row with the head into the ledger",
    ):
        buf = io.BytesIO()
        head, err = capture(export_chain, service, buf)
        if err is not None:
            show_error(err)
            return
        st.session_state[KEY] = (ledger, head, buf.getvalue())
    made = st.session_state.get(KEY)
    if made is None or made[0] != ledger:
        return
    _, head, data = made
    st.download_button(
        "Download chained export",
        data=data,
        file_name=f"ledger-chain-{head.export_id}.jsonl",
        mime="application/jsonl",
        icon=":material/download:",
        key=f"{KEY}_download",
        on_click="ignore",
    )
    st.caption(
        f"{head.rows:,} rows · head `{head.head[:16]}…` · checkpoint `{head.checkpoint}` — "
        "check a copy with `credits verify FILE`."
    )
