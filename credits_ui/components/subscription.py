"""Server mode's plan block: plans are paid Stripe subscriptions.

No active subscription → "Subscribe with Stripe" opens Checkout in
subscription mode; a subscriber → "Change subscription" (Stripe prorates) or
"Cancel at period end". Each shows the dry-run of the credits it will grant
or trim first. The page never writes the plan itself: it moves through
``credits_core.payments.plan_sync`` — on the return from Checkout, and while a
change waits for Stripe (a small fragment re-reads the subscription), besides
the webhook. Without Stripe keys plan changes are made by an admin.
"""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from credits_core.models import CreditsState
from credits_core.payments.plan_sync import (
    active_subscription,
    confirm_subscription_checkout,
    latest_plan_row,
    request_plan,
    sync_subscription,
)
from credits_core.payments.subscriptions import StripeSubscriptions, Subscription
from credits_core.registry import NO_PLAN
from credits_core.runtime import shared_settings

from .. import flash
from ..fmt import money
from ..session import UiSession
from ..stripe_return import stripe_return
from . import topup
from .errors import attempt, capture, friendly_message
from .plan_picker import plan_picker

_CHECKOUT = "cz_sub_checkout"  # (plan label, Checkout URL) to continue to
_PENDING = "cz_sub_pending"  # (subscription id, plan) waiting for Stripe's confirmation
PENDING_POLL = "2s"


def gateway() -> StripeSubscriptions:
    """Subscriptions through the configured Stripe gateway (``PaymentsDisabled`` without keys)."""
    return StripeSubscriptions(topup.gateway())


def checkout_return(ui: UiSession) -> None:
    """Stripe's redirect back (``?subscription=success&session_id=…`` / ``cancel``), once."""
    session_id = stripe_return("subscription", "Subscription checkout cancelled — you were not charged.")
    if session_id is None or ui.is_demo:
        return
    tenant = shared_settings().tenant
    result, err = capture(
        confirm_subscription_checkout, ui.service, gateway(), ui.user_id, session_id, tenant=tenant, via="account"
    )
    if result is None:
        flash.push_and_rerun("error", f"We could not confirm that subscription: {friendly_message(err)}")  # type: ignore[arg-type]
    st.session_state.pop(_CHECKOUT, None)
    flash.push_and_rerun("success", _confirmed_text(ui, result.plan))  # type: ignore[union-attr]


def _confirmed_text(ui: UiSession, plan_id: str | None) -> str:
    """ "Subscribed to X: +N credits this month." from the plan row that made it (whoever wrote it)."""
    row = latest_plan_row(ui.service, ui.user_id)
    label = ui.service.registry.plan(plan_id or NO_PLAN).label
    if row is None or row.meta.get("plan") != plan_id:
        return f"Subscription received; your plan becomes **{label}** when Stripe confirms it."
    granted = int(row.meta.get("granted", 0))
    return f"Subscribed to **{label}**: **+{granted:,} credits** granted this month."


def plan_block(ui: UiSession, state: CreditsState) -> None:
    """The server-mode plan selector (see module docstring)."""
    registry = ui.service.registry
    plans = sorted(registry.plans, key=lambda p: p.rank)
    if not topup.payments_enabled():
        st.info(
            "Plans are paid subscriptions. Payments are not configured on this server, "
            "so plan changes are made by an admin.",
            icon=":material/admin_panel_settings:",
        )
        return
    subs = gateway()
    sub = attempt(active_subscription, ui.service, subs, ui.user_id)
    _pending(ui, subs)
    if state.plan == NO_PLAN:
        st.info(
            "You have no subscription: no monthly credits, and tools that need a plan are locked. "
            "Purchased credits stay yours to spend. Choose a plan to subscribe.",
            icon=":material/info:",
        )
    elif sub is not None and sub.cancel_at_period_end:
        st.warning(f"Your subscription ends on {_date(sub.current_period_end)}; choose a plan to keep it.")
    choice = plan_picker(plans, state)
    resumes = sub is not None and sub.cancel_at_period_end and choice == sub.plan_id
    if choice == state.plan and sub is not None and not resumes:
        st.caption("Pick another plan to preview what changes before you confirm.")
    else:
        _preview_and_act(ui, subs, sub, state, choice)
    if sub is not None and not sub.cancel_at_period_end:
        _cancel(ui, subs, sub)
    pending = st.session_state.get(_CHECKOUT)
    if pending:
        plan_label, url = pending
        st.link_button(
            f"Continue to secure checkout — {plan_label} plan", url, type="primary", icon=":material/open_in_new:"
        )


def _preview_and_act(
    ui: UiSession, subs: StripeSubscriptions, sub: Subscription | None, state: CreditsState, choice: str
) -> None:
    preview = attempt(ui.service.change_plan, ui.user_id, choice, dry_run=True)
    if preview is None:
        return
    registry = ui.service.registry
    new = registry.plan(choice)
    with st.container(border=True, key="cz_plan_preview"):
        st.markdown(
            f"**Preview: {registry.plan(state.plan).label} → {new.label}** "
            f"({money(new.monthly_price, new.currency)} a month; nothing changes until Stripe confirms)"
        )
        c1, c2, c3 = st.columns(3)
        c1.metric("Granted now", f"+{preview.granted:,}", help="Upgrade grant for this month")
        c2.metric("Trimmed", f"−{preview.trimmed:,}", help="Included credits above the new soft cap")
        c3.metric(
            "New balance", f"{preview.balance.total:,}", delta=f"{preview.balance.total - state.balance.total:+,}"
        )
        st.caption(
            f"New soft cap {preview.soft_cap:,} · {preview.monthly_included:,} credits a month · "
            "purchased credits are never trimmed."
        )
        verb = "Subscribe with Stripe" if sub is None else "Change subscription"
        icon = ":material/credit_card:" if sub is None else ":material/swap_vert:"
        if st.button(verb, type="primary", icon=icon, key="cz_plan_subscribe"):
            tenant = shared_settings().tenant
            answer = attempt(request_plan, ui.service, subs, ui.user_id, choice, tenant=tenant, email=ui.email)
            if answer is None:
                return
            if answer.checkout is not None:
                st.session_state[_CHECKOUT] = (new.label, answer.checkout.url)
                return
            if answer.subscription is not None:
                st.session_state[_PENDING] = (answer.subscription.id, choice)
            flash.push_and_rerun(
                "success",
                f"Subscription changed to **{new.label}** (Stripe prorates the price). Your plan changes when "
                f"Stripe confirms: +{preview.granted:,} granted, −{preview.trimmed:,} trimmed.",
            )


def _cancel(ui: UiSession, subs: StripeSubscriptions, sub: Subscription) -> None:
    preview = attempt(ui.service.change_plan, ui.user_id, NO_PLAN, dry_run=True)
    note = f" (then −{preview.trimmed:,} included credits are trimmed)" if preview is not None else ""
    st.caption(f"Your subscription renews on {_date(sub.current_period_end)}.")
    if st.button(
        "Cancel at period end",
        icon=":material/event_busy:",
        key="cz_plan_cancel",
        help="Keep the plan until " + _date(sub.current_period_end) + note,
    ):
        tenant = shared_settings().tenant
        answer = attempt(request_plan, ui.service, subs, ui.user_id, NO_PLAN, tenant=tenant)
        if answer is not None:
            flash.push_and_rerun(
                "info",
                f"Your subscription ends on {_date(sub.current_period_end)}; you keep your plan until then{note}.",
            )


def _pending(ui: UiSession, subs: StripeSubscriptions) -> None:
    """While a change waits for Stripe: re-read the subscription every 2 s, rerun the page once it lands."""
    pending = st.session_state.get(_PENDING)
    if not pending:
        return
    sub_id, plan_id = pending

    @st.fragment(run_every=PENDING_POLL)
    def poll() -> None:
        st.caption(":material/hourglass_top: Waiting for Stripe to confirm the change…")
        result, _err = capture(
            sync_subscription,
            ui.service,
            subs,
            sub_id,
            tenant=shared_settings().tenant,
            via="account",
            owner=ui.user_id,
        )
        if ui.service.state(ui.user_id, tail=0).plan == plan_id or (result is not None and result.action == "ignored"):
            st.session_state.pop(_PENDING, None)
            flash.push("success", _landed_text(ui, plan_id))
            st.rerun(scope="app")

    poll()


def _landed_text(ui: UiSession, plan_id: str) -> str:
    """ "Stripe confirmed: you are on X (+N granted, −M trimmed)." from the plan row that made it."""
    row = latest_plan_row(ui.service, ui.user_id)
    label = ui.service.registry.plan(plan_id).label
    if row is None or row.meta.get("plan") != plan_id:
        return f"Stripe confirmed: you are on **{label}**."
    granted, trimmed = int(row.meta.get("granted", 0)), int(row.meta.get("trimmed", 0))
    return f"Stripe confirmed: you are on **{label}** (+{granted:,} granted, −{trimmed:,} trimmed)."


def _date(ts: int | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d") if ts else "the end of the period"
