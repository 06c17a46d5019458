"""Plans from Stripe subscriptions: the one path that moves a user's plan, and plan requests.

:func:`sync_subscription` is the only place a Stripe subscription changes the
ledger's plan. Every subscription webhook event (``customer.subscription.*``,
``invoice.*``, a completed ``mode=subscription`` Checkout Session), the
confirm of a subscription Checkout and the return to Account call it with a
subscription id; it **reads the subscription back from Stripe** and moves the
plan to Stripe's present state, so redelivered and out-of-order events all
converge (Stripe: "Event ordering … is not guaranteed", fetch the current
object, https://docs.stripe.com/webhooks#event-ordering).

Target: the subscription's ``plan_id`` while its status is active, trialing or
past_due; ``NO_PLAN`` once it is canceled (or unpaid, paused, incomplete) —
but only when the ledger's plan came from *that* subscription, so a late event
of an old subscription never ends a newer one, nor a plan an admin set.

Exactly once: the plan row's ``requestId`` is
``stripe:<subscription>:<target>:<digest of the ledger's current plan row>``.
Two callers that saw the same ledger and the same Stripe state (confirm and
webhook racing, a redelivery) name the same row, so one writes and the other
replays; A→B→A are three different rows because each starts from another
current row. Nothing is written when the ledger already matches. A caller
that wrote re-reads both sides and converges again (at most three rounds),
so a racer that acted on an older Stripe state is corrected at once.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from ..errors import Forbidden, NoSubscription, SubscriptionNotFound
from ..models import PlanChange, Row
from ..registry import NO_PLAN
from ..service import CreditsService
from ..stores.base import RowFilter
from .events import CheckoutSession, WebhookEvent
from .subscriptions import StripeSubscriptions, Subscription

log = logging.getLogger("credits_core.payments")

__all__ = [
    "PlanRequest",
    "SyncResult",
    "active_subscription",
    "confirm_subscription_checkout",
    "handle_subscription_event",
    "latest_plan_row",
    "request_plan",
    "sync_subscription",
]

_ROUNDS = 3


@dataclass(frozen=True)
class SyncResult:
    """What a sync did: ``changed`` (a plan row written), ``replayed``, ``unchanged`` or ``ignored``."""

    action: str
    plan: str | None = None
    subscription_id: str | None = None
    change: PlanChange | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action, "plan": self.plan, "subscriptionId": self.subscription_id}
        if self.change is not None:
            out.update(granted=self.change.granted, trimmed=self.change.trimmed, balance=self.change.balance.to_dict())
        return out


def latest_plan_row(service: CreditsService, user_id: str) -> Row | None:
    """The user's newest ``plan`` row (the one that decides their plan), if any."""
    rows = service.store.rows(RowFilter(user_id=user_id, kinds=("plan",)), limit=1)
    return rows[0] if rows else None


def request_id_for(subscription_id: str, target: str, current: Row | None) -> str:
    """``stripe:<sub>:<target>:<12 hex of the current plan row's name, or "start">``."""
    after = hashlib.sha256(current.name.encode()).hexdigest()[:12] if current is not None else "start"
    return f"stripe:{subscription_id}:{target}:{after}"


def plan_target(sub: Subscription, current: Row | None) -> str | None:
    """The plan the ledger should have for ``sub`` (None: not this subscription's to decide); reconciliation."""
    return _target(sub, current)


def _target(sub: Subscription, current: Row | None) -> str | None:
    """The plan the ledger should have for ``sub``; None when ``sub`` does not decide it."""
    if sub.active:
        return sub.plan_id
    if current is not None and current.meta.get("subscription") == sub.id:
        return NO_PLAN
    return None  # an old subscription, or a plan set by an admin: not this subscription's to end


def sync_subscription(
    service: CreditsService,
    subs: StripeSubscriptions,
    subscription_id: str,
    *,
    tenant: str,
    via: str,
    owner: str | None = None,
) -> SyncResult:
    """Move the ledger's plan to the subscription's present state at Stripe (see module docstring).

    ``owner``: the signed-in user asking (confirm / Account); another user's
    subscription is ``Forbidden``. A subscription of another tenant or app is
    ``ignored``."""
    result = SyncResult("unchanged", subscription_id=subscription_id)
    for _round in range(_ROUNDS):
        sub = subs.retrieve(subscription_id)
        if owner is not None and sub.user_id != owner:
            raise Forbidden("this subscription belongs to another account")
        if sub.tenant != tenant:
            return SyncResult("ignored", subscription_id=sub.id)
        current = latest_plan_row(service, sub.user_id)
        now_plan = service.state(sub.user_id, tail=0).plan
        target = _target(sub, current)
        if target is not None and target != NO_PLAN and target not in {p.id for p in service.registry.plans}:
            log.warning("subscription %s names plan %r, not in the registry; ignored", sub.id, target)
            return SyncResult("ignored", subscription_id=sub.id)
        if target is None or target == now_plan:
            return result if result.action != "unchanged" else SyncResult("unchanged", now_plan, sub.id)
        change = service.change_plan(
            sub.user_id,
            target,
            request_id=request_id_for(sub.id, target, current),
            subscription=sub.id,
            stripeStatus=sub.status,
            subscriptionRegistryVersion=sub.registry_version,
            via=via,
        )
        if change.replayed:
            return result if result.action == "changed" else SyncResult("replayed", target, sub.id, change)
        log.info(
            "plan of %s: %s → %s (subscription %s, via %s)", sub.user_id, change.previous_plan, target, sub.id, via
        )
        result = SyncResult("changed", target, sub.id, change)
    return result


def handle_subscription_event(
    service: CreditsService, subs: StripeSubscriptions, event: WebhookEvent, *, tenant: str
) -> dict[str, Any]:
    """A verified subscription event → :func:`sync_subscription`; the webhook's 200 answer."""
    if event.subscription_id is None:
        return {"received": True, "action": "ignored"}
    try:
        result = sync_subscription(service, subs, event.subscription_id, tenant=tenant, via="webhook")
    except SubscriptionNotFound:
        return {"received": True, "action": "ignored"}
    action = {"changed": "plan_changed", "replayed": "replayed"}.get(result.action, result.action)
    return {"received": True, "action": action, "subscriptionId": event.subscription_id}


def confirm_subscription_checkout(
    service: CreditsService, subs: StripeSubscriptions, user_id: str, session_id: str, *, tenant: str, via: str
) -> SyncResult:
    """The subscriber came back from Checkout: sync the session's subscription (once)."""
    subscription_id = subs.checkout_subscription(session_id, owner=user_id)
    return sync_subscription(service, subs, subscription_id, tenant=tenant, via=via, owner=user_id)


def active_subscription(service: CreditsService, subs: StripeSubscriptions, user_id: str) -> Subscription | None:
    """The user's subscription if Stripe still has it active (found through the ledger's plan row)."""
    current = latest_plan_row(service, user_id)
    sid = current.meta.get("subscription") if current is not None else None
    if not isinstance(sid, str):
        return None
    try:
        sub = subs.retrieve(sid)
    except SubscriptionNotFound:
        return None
    return sub if sub.active and sub.user_id == user_id else None


@dataclass(frozen=True)
class PlanRequest:
    """Answer to a plan request: a Checkout to open, or a change Stripe will confirm."""

    action: str  # checkout | updated | cancel_at_period_end | unchanged
    plan: str
    current_plan: str
    preview: PlanChange
    message: str
    checkout: CheckoutSession | None = None
    subscription: Subscription | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.action,
            "plan": self.plan,
            "currentPlan": self.current_plan,
            "message": self.message,
            "preview": {
                "granted": self.preview.granted,
                "trimmed": self.preview.trimmed,
                "balance": self.preview.balance.to_dict(),
                "softCap": self.preview.soft_cap,
                "monthlyIncluded": self.preview.monthly_included,
            },
        }
        if self.checkout is not None:
            out.update(url=self.checkout.url, sessionId=self.checkout.id)
        if self.subscription is not None:
            out.update(
                subscriptionId=self.subscription.id,
                cancelAtPeriodEnd=self.subscription.cancel_at_period_end,
                currentPeriodEnd=self.subscription.current_period_end,
            )
        return out


def request_plan(
    service: CreditsService,
    subs: StripeSubscriptions,
    user_id: str,
    plan_id: str,
    *,
    tenant: str,
    email: str | None = None,
) -> PlanRequest:
    """What choosing ``plan_id`` does for a signed-in user (the ledger is never written here).

    No active subscription → a ``mode=subscription`` Checkout for the plan's
    monthly price. A subscriber → Stripe's subscription is updated (prorated)
    and the answer carries the dry-run of the credits it will cause; the plan
    row comes with Stripe's event. ``NO_PLAN`` → cancel at period end."""
    registry = service.registry
    plan = registry.plan(plan_id)  # UnknownPlan for a typo
    current_plan = service.state(user_id, tail=0).plan
    sub = active_subscription(service, subs, user_id)
    preview = service.change_plan(user_id, plan.id, dry_run=True)
    if sub is None:
        if plan.id == NO_PLAN:
            raise NoSubscription("there is no active subscription to cancel")
        checkout = subs.create_checkout(
            user_id=user_id,
            plan_id=plan.id,
            plan_label=plan.label,
            unit_amount=plan.monthly_price,
            currency=plan.currency,
            registry_version=registry.version,
            tenant=tenant,
            customer_email=email,
        )
        message = f"Subscribe to {plan.label} on Stripe's page; the plan starts when Stripe confirms the payment."
        return PlanRequest("checkout", plan.id, current_plan, preview, message, checkout=checkout)
    if plan.id == NO_PLAN:
        if sub.cancel_at_period_end:
            return PlanRequest(
                "unchanged",
                plan.id,
                current_plan,
                preview,
                "The subscription already ends at period end.",
                subscription=sub,
            )
        sub = subs.cancel_at_period_end(sub)
        message = "Your subscription ends at the end of the paid period; the plan changes then."
        return PlanRequest("cancel_at_period_end", plan.id, current_plan, preview, message, subscription=sub)
    if plan.id == sub.plan_id and not sub.cancel_at_period_end:
        return PlanRequest(
            "unchanged", plan.id, current_plan, preview, f"You are subscribed to {plan.label}.", subscription=sub
        )
    sub = subs.change_plan(
        sub,
        plan_id=plan.id,
        plan_label=plan.label,
        unit_amount=plan.monthly_price,
        currency=plan.currency,
        registry_version=registry.version,
    )
    message = f"Subscription changed to {plan.label} (prorated by Stripe); the plan changes when Stripe confirms."
    return PlanRequest("updated", plan.id, current_plan, preview, message, subscription=sub)
