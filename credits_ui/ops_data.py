"""Cached ops queries for the Ops ledger page.

The store aggregates in SQL (``daily_totals``, ``top_tools``) and returns
``rows`` with a LIMIT, so nothing here loops over ledger rows. Results are
cached with ``st.cache_data`` keyed by the *filter values* and a ``source``
string naming the ledger (never by the service object, which is passed as
the unhashed ``_service``; https://docs.streamlit.io/develop/api-reference/caching-and-state/st.cache_data
— "an underscore prefix in the argument name" excludes it from the key).
``rev`` changes whenever the data must be read again: the DEMO ledger's row
count, or a refresh counter for the server ledger (which also expires after
``TTL``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import streamlit as st

from credits_core import CreditsService, RowFilter

TTL = "60s"


def row_filter(user: str | None, kinds: tuple[str, ...], since: date | None, until: date | None) -> RowFilter:
    """A store filter from page filter values (``until`` is inclusive here, exclusive in the store)."""
    return RowFilter(
        user_id=user or None,
        kinds=tuple(kinds),
        since=datetime.combine(since, datetime.min.time(), UTC) if since else None,
        until=datetime.combine(until + timedelta(days=1), datetime.min.time(), UTC) if until else None,
    )


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=128)
def daily_totals(
    _service: CreditsService,
    source: str,
    rev: str,
    user: str | None,
    kinds: tuple[str, ...],
    since: date | None,
    until: date | None,
) -> pd.DataFrame:
    """``day, kind, credits, rows`` per UTC day and kind (SQL ``GROUP BY``)."""
    return _service.daily_totals(row_filter(user, kinds, since, until))


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=128)
def top_tools(
    _service: CreditsService,
    source: str,
    rev: str,
    user: str | None,
    since: date | None,
    until: date | None,
    limit: int = 10,
) -> pd.DataFrame:
    """Tools by credits charged in the range."""
    return _service.top_tools(row_filter(user, (), since, until), limit)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=32)
def balances(_service: CreditsService, source: str, rev: str) -> pd.DataFrame:
    """Every user's balance by bucket and plan (one row per account, not per ledger row)."""
    return _service.balances()


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=128)
def ledger_rows(
    _service: CreditsService,
    source: str,
    rev: str,
    user: str | None,
    kinds: tuple[str, ...],
    since: date | None,
    until: date | None,
    limit: int,
) -> pd.DataFrame:
    """The newest ``limit`` rows matching the filters."""
    return _service.rows(row_filter(user, kinds, since, until), limit)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=32)
def outstanding(_service: CreditsService, source: str, rev: str) -> pd.DataFrame:
    """Outstanding credits per day by bucket, valued; credits in / out (``service.outstanding``)."""
    return _service.outstanding()
