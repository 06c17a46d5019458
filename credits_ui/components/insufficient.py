"""The insufficient-credits block and the plan-required notice (Ask AI, errors)."""

from __future__ import annotations

import streamlit as st

from credits_core.errors import CreditsError

from .. import nav
from ..fmt import credits_text


def insufficient_credits_block(exc: CreditsError) -> None:
    """Blocked: what the action needs, what the balance is, and where to top up.

    Reads the details of an ``insufficient_credits`` error (``required``,
    ``balance``, ``topUp``) exactly as the API's 402 answer carries them.
    """
    details = exc.details
    required = int(details.get("required", 0))
    balance = details.get("balance") or {}
    total = int(balance.get("total", 0))
    packs = (details.get("topUp") or {}).get("packs") or []
    with st.container(border=True, key="cz_insufficient"):
        st.error(
            f"**Not enough credits.** This needs {credits_text(required)} and your balance is {credits_text(total)}.",
            icon=":material/block:",
        )
        c1, c2, c3 = st.columns(3)
        c1.metric("Required", credits_text(required))
        c2.metric("Your balance", credits_text(total))
        c3.metric("Short by", credits_text(max(0, required - total)))
        if balance:
            st.caption(f"Included {int(balance.get('included', 0)):,} · purchased {int(balance.get('purchased', 0)):,}")
        if packs:
            offer = " · ".join(f"{p.get('label', p.get('id'))}" for p in packs)
            st.markdown(f"**Top up** with a credit pack ({offer}) — purchased credits never expire.")
        st.page_link(nav.ACCOUNT.path, label="Top up on the Account page", icon=":material/add_card:")


def plan_required_block(exc: CreditsError) -> None:
    """A gated tool: say which plan unlocks it and link to the plan selector."""
    with st.container(border=True, key="cz_plan_required"):
        st.warning(f"**Upgrade needed.** {exc.message}.", icon=":material/lock:")
        st.page_link(nav.ACCOUNT.path, label="Change plan on the Account page", icon=":material/upgrade:")
