"""The subscription side of reconciliation: plans in the ledger vs subscriptions at Stripe.

Stripe facts: the subscriptions created in the window and those of the paid
invoices of the window (a renewal of an older subscription), each read as
``payments.subscriptions`` reads it; plan rows of the window naming a
subscription Stripe does not have are ``stripe_object_missing``.

The ledger's side of each subscription of ours is what ``payments.plan_sync``
compares (``_target``: the subscription's plan while active, no plan once it
ended, only when the ledger's plan came from it), so reconciliation and the
webhook path agree on what "in sync" means; ``plan_mismatch`` is repaired by
``plan_sync.sync_subscription`` — the one path that moves a plan from Stripe,
keyed per ledger state, so a second repair writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import stripe

from ..errors import SubscriptionNotFound
from ..payments import plan_sync
from ..payments.stripe_gateway import StripeGateway, provider_error
from ..payments.subscriptions import StripeSubscriptions, Subscription, subscription_from
from ..registry import NO_PLAN
from ..service import CreditsService
from ..stores.base import RowFilter
from .join import Drift, LedgerFacts
from .stripe_facts import StripeFacts, StripeLister


def available() -> bool:
    """This build has Stripe plan subscriptions."""
    return True


@dataclass(frozen=True)
class PlanFact:
    """The ledger's plan of a subscriber, and what the subscription says it should be."""

    sub: Subscription
    ledger_plan: str
    target: str | None
    row: str | None


def ledger_plans(
    service: CreditsService,
    lister: StripeLister,
    facts: StripeFacts,
    tenant: str,
    since: datetime | None,
    until: datetime | None,
) -> dict[str, Any]:
    """Read both sides for every subscription in view (I/O); the join below is pure."""
    subs: dict[str, Subscription] = {}
    for sid, raw in facts.subscriptions.items():
        parsed = _parse(raw)
        if parsed is not None:
            subs[sid] = parsed
    for inv in facts.invoices.values():
        sid = _invoice_subscription(inv)
        if sid and sid not in subs and sid not in facts.subscriptions:
            raw = _retrieve(lister, sid)
            parsed = _parse(raw) if raw is not None else None
            if parsed is not None:
                subs[sid] = parsed
    out: dict[str, Any] = {"missing": {}}
    for row in service.export_rows(RowFilter(kinds=("plan",), since=since, until=until)):
        sid = row.meta.get("subscription")
        if not isinstance(sid, str) or sid in subs or sid in facts.subscriptions or sid in out["missing"]:
            continue
        raw = _retrieve(lister, sid)
        parsed = _parse(raw) if raw is not None else None
        if parsed is None:
            out["missing"][sid] = row
        else:
            subs[sid] = parsed
    plans = {p.id for p in service.registry.plans} | {NO_PLAN}
    for sid, sub in subs.items():
        if sub.tenant != tenant:
            continue
        current = plan_sync.latest_plan_row(service, sub.user_id)
        now_plan = service.state(sub.user_id, tail=0, read_only=True).plan
        target = plan_sync.plan_target(sub, current)  # the webhook path's own rule
        out[sid] = PlanFact(sub, now_plan, target if target in plans else None, current.name if current else None)
    return out


def plan_drift(facts: StripeFacts, ledger: LedgerFacts) -> list[Drift]:
    """``plan_mismatch`` and missing subscriptions, from ``ledger.plans`` (pure)."""
    out = []
    for key, fact in ledger.plans.items():
        if key == "missing" or fact.target is None or fact.target == fact.ledger_plan:
            continue
        sub = fact.sub
        out.append(
            Drift(
                "plan_mismatch",
                sub.id,
                fact.row,
                sub.user_id,
                f"ledger plan {fact.ledger_plan}; subscription is {sub.status} on {sub.plan_id} → should be {fact.target}",
                subscription=sub.id,
            )
        )
    for sid, row in ledger.plans.get("missing", {}).items():
        out.append(
            Drift(
                "stripe_object_missing",
                sid,
                row.name,
                row.user_id,
                "Stripe has no such subscription (or it is not a plan of this app)",
            )
        )
    return out


def repair_plan(service: CreditsService, gateway: StripeGateway, d: Drift, tenant: str) -> Any:
    """Sync the subscription's plan through ``plan_sync`` (once per ledger state)."""
    from .run import RepairResult

    got = plan_sync.sync_subscription(
        service, StripeSubscriptions(gateway), str(d.subscription), tenant=tenant, via="reconcile"
    )
    if got.action == "changed" and got.change is not None:
        row = next((r.name for r in got.change.rows if r.kind == "plan"), d.row)
        return RepairResult(d, "plan_synced", row, f"plan {got.change.previous_plan} → {got.plan}")
    return RepairResult(d, "nothing_to_do", d.row, f"plan sync: {got.action}")


def _parse(raw: dict[str, Any]) -> Subscription | None:
    try:
        return subscription_from(raw)
    except SubscriptionNotFound:
        return None


def _retrieve(lister: StripeLister, subscription_id: str) -> dict[str, Any] | None:
    call: Callable[[], Any] = lambda: lister.client.v1.subscriptions.retrieve(subscription_id)  # noqa: E731
    for attempt in range(1, lister.max_waits + 2):
        try:
            lister.calls += 1
            return call().to_dict()
        except stripe.InvalidRequestError as e:
            if e.http_status == 404 or e.code == "resource_missing":
                return None
            raise provider_error(e, "read a subscription") from None
        except stripe.RateLimitError as e:
            lister.sleep(lister.wait_for(e, attempt, "subscriptions"))
        except stripe.StripeError as e:
            raise provider_error(e, "read a subscription") from None
    return None  # pragma: no cover - _wait raises first


def _invoice_subscription(inv: dict[str, Any]) -> str | None:
    details = (inv.get("parent") or {}).get("subscription_details") or {}
    sid = details.get("subscription") or inv.get("subscription")
    return sid if isinstance(sid, str) else None
