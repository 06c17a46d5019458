"""Account: balance by bucket, plan change with a dry-run preview, top-ups, the cost matrix."""

from __future__ import annotations

import uuid

import pandas as pd
import streamlit as st

from credits_core.models import CreditsState
from credits_ui import flash
from credits_ui.components import subscription, topup
from credits_ui.components.errors import attempt, capture, friendly_message
from credits_ui.components.plan_picker import plan_picker
from credits_ui.components.scenarios import FAIL_KEY
from credits_ui.fmt import money
from credits_ui.layout import page_header, page_session
from credits_ui.main import run_page
from credits_ui.pricing import options_from_registry
from credits_ui.session import UiSession
from credits_ui.stripe_return import stripe_return

_CONFIRMED = "cz_confirmed_checkouts"
_CHECKOUT_URL = "cz_checkout_url"


def _checkout_return(ui: UiSession) -> None:
    """Handle Stripe's redirect back (``?checkout=success&session_id=…`` / ``cancel``) once."""
    session_id = stripe_return("checkout", "Checkout cancelled — you were not charged.")
    if session_id is None:
        return
    if ui.is_demo:
        flash.push_and_rerun("warning", "Sign in to confirm a Stripe checkout; DEMO purchases need no checkout.")
    done = st.session_state.setdefault(_CONFIRMED, set())
    if session_id in done:
        return
    result, err = capture(topup.confirm_checkout, ui.service, ui.user_id, session_id)
    if result is None:
        flash.push_and_rerun("error", f"We could not confirm that payment: {friendly_message(err)}")  # type: ignore[arg-type]
    done.add(session_id)
    st.session_state.pop(_CHECKOUT_URL, None)
    credits = result.row.delta  # type: ignore[union-attr]  # net of what Stripe already refunded
    refunded = int(result.row.meta.get("refundedCredits", 0))  # type: ignore[union-attr]
    note = f" ({refunded:,} held back: the payment was refunded)" if refunded else ""
    total = result.balance.total  # type: ignore[union-attr]
    # Stripe's webhook usually credits the session before the browser is back, so a
    # replay of a webhook-written row is the normal first return, not a repeat.
    if result.replayed and result.row.meta.get("via") == "ui-confirm":  # type: ignore[union-attr]
        flash.push_and_rerun(
            "info", f"This payment was already credited: **+{credits:,} credits**{note}. Balance **{total:,}**."
        )
    flash.push_and_rerun("success", f"Payment received: **+{credits:,} credits**{note}. New balance **{total:,}**.")


def _runway_block(ui: UiSession) -> None:
    """≈ days left at the recent pace, and a notice when under three days; nothing without history."""
    runway, _ = capture(ui.service.runway, ui.user_id)
    if runway is None:
        return
    if runway.short:
        st.warning(
            f"Your credits may run out soon: {runway.text()}. Top up below to keep going.",
            icon=":material/hourglass_bottom:",
        )
    else:
        st.caption(
            f":material/hourglass_top: {runway.text()}"
            + (f", counting the next monthly grant of {runway.next_grant:,}" if runway.next_grant else "")
            + "."
        )


def _credits_block(state: CreditsState, plan_label: str) -> None:
    st.subheader("Credits", anchor="credits")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Balance", f"{state.balance.total:,}", border=True, help="Included + purchased credits")
    c2.metric(
        "Included",
        f"{state.balance.included:,}",
        border=True,
        help=f"Granted by your plan each month; spent first; capped at {state.soft_cap:,} (soft cap)",
    )
    c3.metric("Purchased", f"{state.balance.purchased:,}", border=True, help="Top-up credits; never trimmed or expired")
    c4.metric("Plan", plan_label, border=True, help=f"{state.monthly_included:,} credits a month · month {state.month}")
    cap = max(state.soft_cap, 1)
    st.progress(
        min(1.0, state.balance.included / cap),
        text=f"Included credits {state.balance.included:,} of the {state.soft_cap:,} soft cap "
        f"({state.monthly_included:,} granted each month)",
    )


def _plan_block(ui: UiSession, state: CreditsState) -> None:
    st.subheader("Plan", anchor="plan")
    if not ui.is_demo:
        subscription.plan_block(ui, state)  # a paid Stripe subscription (or an admin) sets the plan
        return
    st.caption("DEMO: plans switch for free here; signed in, a plan is a paid Stripe subscription.")
    plans = sorted(ui.service.registry.plans, key=lambda p: p.rank)
    choice = plan_picker(plans, state)
    if choice == state.plan:
        st.caption("Pick another plan to preview what changes before you confirm.")
        return
    preview = attempt(ui.service.change_plan, ui.user_id, choice, dry_run=True)
    if preview is None:
        return
    new = ui.service.registry.plan(choice)
    with st.container(border=True, key="cz_plan_preview"):
        st.markdown(
            f"**Preview: {ui.service.registry.plan(state.plan).label} → {new.label}** (DEMO, free; nothing is changed until you confirm)"
        )
        c1, c2, c3 = st.columns(3)
        c1.metric(
            "Granted now",
            f"+{preview.granted:,}",
            help="Upgrade grant for this month (never above the top plan's monthly grant)",
        )
        c2.metric("Trimmed", f"−{preview.trimmed:,}", help="Included credits above the new soft cap")
        c3.metric(
            "New balance",
            f"{preview.balance.total:,}",
            delta=f"{preview.balance.total - state.balance.total:+,}",
            delta_color="normal",
        )
        st.caption(
            f"New soft cap {preview.soft_cap:,} · {preview.monthly_included:,} credits a month · "
            f"included {preview.balance.included:,} + purchased {preview.balance.purchased:,} "
            "(purchased credits are never trimmed)."
        )
        if st.button(f"Confirm: switch to {new.label}", type="primary", icon=":material/check:", key="cz_plan_confirm"):
            change = attempt(ui.service.change_plan, ui.user_id, choice, request_id=f"ui-{uuid.uuid4().hex}")
            if change is not None:
                flash.push_and_rerun(
                    "success",
                    f"You are now on **{new.label}**: granted +{change.granted:,}, trimmed −{change.trimmed:,}, "
                    f"balance **{change.balance.total:,}**.",
                )


def _topup_block(ui: UiSession) -> None:
    st.subheader("Top up", anchor="top-up")
    packs = list(ui.service.registry.packs)
    server_payments = not ui.is_demo and topup.payments_enabled()
    if ui.is_demo:
        st.caption("DEMO purchase: the pack is credited at once and no money moves.")
    elif not server_payments:
        st.info(
            "Payments are not configured on this server (no `STRIPE_SECRET_KEY`), so packs cannot be bought here yet.",
            icon=":material/credit_card_off:",
        )
    else:
        st.caption("Secure payment with Stripe Checkout; purchased credits never expire.")
    for pack in packs:
        with st.container(border=True):
            info, action = st.columns([3, 2], vertical_alignment="center")
            info.markdown(f"**{pack.label}** · {money(pack.price, pack.currency)}")
            info.caption(f"{money(round(pack.price / pack.credits * 100), pack.currency)} per 100 credits")
            if ui.is_demo:
                if action.button(
                    "Buy (DEMO)", key=f"cz_buy_{pack.id}", icon=":material/add_shopping_cart:", width="stretch"
                ):
                    if st.session_state.pop(FAIL_KEY, False):  # the "payment that fails" scenario
                        flash.push_and_rerun(
                            "error",
                            f"Payment declined (DEMO: the card was declined). Nothing was charged and no credits "
                            f"were added for {pack.label}; try again to buy it.",
                        )
                    result = attempt(topup.demo_purchase, ui.service, ui.user_id, pack.id)
                    if result is not None:
                        flash.push_and_rerun(
                            "success",
                            f"DEMO purchase: **+{pack.credits:,} credits** for {money(pack.price, pack.currency)} "
                            f"(simulated). New balance **{result.balance.total:,}**.",
                        )
            elif action.button(
                "Buy with Stripe",
                key=f"cz_buy_{pack.id}",
                icon=":material/credit_card:",
                width="stretch",
                disabled=not server_payments,
            ):
                checkout = attempt(topup.start_checkout, ui.service, ui.user_id, pack.id, email=ui.email)
                if checkout is not None:
                    st.session_state[_CHECKOUT_URL] = (pack.label, checkout.url)
    pending = st.session_state.get(_CHECKOUT_URL)
    if pending and not ui.is_demo:
        label, url = pending
        st.link_button(f"Continue to secure checkout — {label}", url, type="primary", icon=":material/open_in_new:")


def _matrix_block(ui: UiSession, state: CreditsState) -> None:
    st.subheader("Cost in credits per tool", anchor="matrix")
    registry = ui.service.registry
    plans, tools, _ = options_from_registry(registry)
    labels = {p.id: p.label for p in plans}
    ranks = {p.rank: p.label for p in plans}
    frame = pd.DataFrame(
        {
            "Tool": [t.label for t in registry.tools],
            "Category": [t.category for t in registry.tools],
            "Credits": [t.credits for t in registry.tools],
            "Needs": [ranks.get(c.min_rank, "") + "+" if c.min_rank is not None else "Any plan" for c in tools],
            **{labels[p.id]: [registry.allows(p.id, t.id) for t in registry.tools] for p in plans},
            "What it does": [t.description for t in registry.tools],
        }
    )
    config = {
        "Credits": st.column_config.NumberColumn("Credits", help="Credits charged per use", format="%d"),
        "Needs": st.column_config.TextColumn("Plan gate", help="Lowest plan that can use the tool"),
        **{
            labels[p.id]: st.column_config.CheckboxColumn(
                labels[p.id] + (" (you)" if p.id == state.plan else ""), help=f"Available on {p.label}"
            )
            for p in plans
        },
        "What it does": st.column_config.TextColumn("What it does", width="large"),
    }
    st.dataframe(frame, hide_index=True, column_config=config, key="cz_matrix")
    st.caption(f"Registry version {registry.version}. Prices of past actions never change when the registry does.")


def _activity_block(state: CreditsState) -> None:
    with st.expander("Recent activity", icon=":material/receipt_long:"):
        if not state.ledger_tail:
            st.caption("No ledger rows yet.")
            return
        frame = pd.DataFrame(
            {
                "When (UTC)": [r.created_at.strftime("%Y-%m-%d %H:%M") for r in state.ledger_tail],
                "Kind": [r.kind for r in state.ledger_tail],
                "Credits": [r.delta for r in state.ledger_tail],
                "Bucket": [r.bucket for r in state.ledger_tail],
                "Tool / pack": [
                    r.meta.get("tool") or r.meta.get("pack") or r.meta.get("plan") or "" for r in state.ledger_tail
                ],
                "Note": [r.meta.get("reason") or r.meta.get("warning") or "" for r in state.ledger_tail],
            }
        )
        st.dataframe(frame, hide_index=True)


def render() -> None:
    """The Account page."""
    page_header("Account", "Your plan, your credits, top-ups and what each tool costs.")
    ui = page_session()
    if ui is None:
        return
    _checkout_return(ui)
    subscription.checkout_return(ui)
    state = attempt(ui.service.state, ui.user_id, tail=15)
    if state is None:
        return
    try:
        plan_label = ui.service.registry.plan(state.plan).label
    except Exception:
        plan_label = state.plan
    _credits_block(state, plan_label)
    _runway_block(ui)
    left, right = st.columns([1, 1], gap="large")
    with left:
        _plan_block(ui, state)
    with right:
        _topup_block(ui)
    _matrix_block(ui, state)
    _activity_block(state)


run_page(render)
