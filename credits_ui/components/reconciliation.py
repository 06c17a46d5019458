"""Ops "Reconciliation" panel (admins, server ledger): Stripe vs the ledger, drift lines, repair once.

Calls ``credits_core.reconcile`` only: listing with a progress bar, the drift
table (each line names the Stripe object and the ledger row), and a Repair
button that applies the repairable lines through the exactly-once paths.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import streamlit as st

from credits_core import CreditsService
from credits_core.reconcile import Report, reconcile, repair
from credits_core.runtime import shared_settings

from .errors import capture, show_error
from .topup import gateway, payments_enabled

KEY = "cz_recon"


def _drift_table(report: Report) -> pd.DataFrame:
    cols = ["code", "stripeId", "row", "userId", "detail", "repair"]
    return pd.DataFrame([{**{c: "" for c in cols}, **d.to_dict()} for d in report.drift], columns=cols).fillna("")


def _window(today: date) -> tuple[datetime | None, datetime | None]:
    if not st.toggle("Limit to a window of dates", key=f"{KEY}_limit", help="Off: every object Stripe has"):
        return None, None
    picked = st.date_input("Created (UTC)", value=(today - timedelta(days=30), today), key=f"{KEY}_dates")
    first = picked[0] if isinstance(picked, tuple | list) and picked else picked
    last = picked[-1] if isinstance(picked, tuple | list) and picked else picked
    since = datetime.combine(first, datetime.min.time(), UTC) if isinstance(first, date) else None
    until = datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC) if isinstance(last, date) else None
    return since, until


def reconciliation_panel(service: CreditsService) -> None:
    """The panel (see module docstring); the caller has checked that this is an admin on the server ledger."""
    st.subheader("Reconciliation", anchor=False)
    st.caption(
        "Stripe's checkout sessions, refunds, subscriptions and invoices joined to the ledger: paid but not "
        "credited, credited but not paid, refunds not taken back, mismatches, plans out of sync."
    )
    if not payments_enabled():
        st.info(
            "Stripe is not configured on this server (`STRIPE_SECRET_KEY`): nothing to reconcile.",
            icon=":material/link_off:",
        )
        return
    since, until = _window(service.now().date())
    tenant = shared_settings().tenant
    if st.button("Run reconciliation", icon=":material/compare_arrows:", key=f"{KEY}_run"):
        bar = st.progress(0.0, text="Listing Stripe objects")
        report, err = capture(
            lambda: reconcile(
                service,
                gateway(),
                tenant=tenant,
                since=since,
                until=until,
                progress=lambda f, t: bar.progress(min(1.0, f), text=t),
            )
        )
        bar.empty()
        st.session_state[KEY] = report
        if err is not None:
            show_error(err)
    report: Report | None = st.session_state.get(KEY)
    if report is None:
        return
    c = report.checked
    st.caption(
        f"Checked {c['sessions']:,} sessions ({c['paidSessions']:,} paid), {c['refunds']:,} refunds, "
        f"{c['subscriptions']:,} subscriptions, {c['invoices']:,} invoices; {c['stripeCalls']:,} Stripe calls."
    )
    if not report.drift:
        st.success("No drift: every payment is credited once and every credit is paid for.", icon=":material/check:")
    else:
        st.warning(f"{len(report.drift)} drift line(s).", icon=":material/difference:")
        st.dataframe(
            _drift_table(report),
            hide_index=True,
            key=f"{KEY}_drift",
            column_config={"stripeId": "Stripe object", "row": "Ledger row", "userId": "User", "repair": "Repair"},
        )
        fixable = [d for d in report.drift if d.repair]
        if fixable and st.button(f"Repair {len(fixable)} line(s)", icon=":material/build:", key=f"{KEY}_repair"):
            done, err = capture(lambda: repair(service, gateway(), report, tenant=tenant))
            if err is not None:
                show_error(err)
            else:
                st.session_state[f"{KEY}_done"] = done
    done = st.session_state.get(f"{KEY}_done")
    if done:
        st.dataframe(pd.DataFrame([r.to_dict() for r in done]), hide_index=True, key=f"{KEY}_done_table")
        st.caption("Run the reconciliation again to see what is left; a second repair changes nothing.")
