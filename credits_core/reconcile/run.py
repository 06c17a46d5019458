"""Reconcile: list Stripe, read the ledger by name, join, and — when asked — repair.

``reconcile`` reads only: every Stripe list is complete before the ledger is
compared, so Stripe down or rate-limiting past the back-off is a
``PaymentsUnavailable`` and nothing is written. ``repair`` applies each
repairable line through the one path that already does that change exactly
once — crediting and refund take-backs through
``payments.refund_sync.settle_paid_session`` (the confirm/webhook path),
plans through the subscription sync, unpaid top-ups through
``service.reverse_top_up`` — after re-reading the object from Stripe. Every
path is keyed by a row name, so a second repair writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .. import keys
from ..errors import CreditsError
from ..payments import refund_sync
from ..payments.stripe_gateway import StripeGateway
from ..policy.reversals import reversal_name
from ..policy.stripe_refunds import recorded_refund
from ..service import CreditsService
from ..stores.base import RowFilter
from .join import Drift, LedgerFacts, join
from .stripe_facts import Progress, StripeFacts, StripeLister, add_session, list_facts, session_fact


@dataclass
class Report:
    """What a reconciliation saw and found."""

    since: datetime | None
    until: datetime | None
    drift: list[Drift]
    checked: dict[str, int]
    repairs: list[RepairResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "checked": self.checked,
            "drift": [d.to_dict() for d in self.drift],
            "repairs": [r.to_dict() for r in self.repairs],
        }


@dataclass(frozen=True)
class RepairResult:
    """One repair: the line, what happened (``credited``, ``taken_back``, ``reversed``, ``plan_synced``,
    ``nothing_to_do``, ``skipped``, ``failed``), the row written, a message."""

    drift: Drift
    action: str
    row: str | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.drift.code,
            "stripeId": self.drift.stripe_id,
            "action": self.action,
            "row": self.row,
            "message": self.message,
        }


def reconcile(
    service: CreditsService,
    gateway: StripeGateway,
    *,
    tenant: str,
    since: datetime | None = None,
    until: datetime | None = None,
    progress: Progress | None = None,
    lister: StripeLister | None = None,
) -> Report:
    """Compare Stripe's objects created in ``[since, until)`` and the ledger's top-ups of that window."""
    lister = lister or StripeLister(gateway)
    billing = _billing()
    facts = list_facts(lister, since, until, progress=progress, with_billing=billing is not None)
    topups = service.export_rows(RowFilter(kinds=("topup",), since=since, until=until))
    for row in topups:
        sid = str(row.meta.get("reference") or row.name.rsplit("|", 1)[-1])
        if sid.startswith("cs_") and sid not in facts.sessions and sid not in facts.missing:
            add_session(lister, facts, sid)
    ledger = ledger_facts(service, facts)
    if billing is not None:
        ledger.plans = billing.ledger_plans(service, lister, facts, tenant, since, until)
    drift = join(facts, ledger, tenant, billing.plan_drift if billing is not None else None)
    if progress is not None:
        progress(1.0, f"Done: {len(drift)} drift line(s)")
    checked = {
        "sessions": len(facts.sessions),
        "paidSessions": sum(1 for s in facts.sessions.values() if s.paid is not None),
        "refunds": facts.refunds,
        "subscriptions": len(facts.subscriptions),
        "invoices": len(facts.invoices),
        "ledgerTopUps": len(topups),
        "stripeCalls": lister.calls,
        "rateLimitWaits": len(lister.waits),
    }
    return Report(since, until, drift, checked)


def ledger_facts(service: CreditsService, facts: StripeFacts) -> LedgerFacts:
    """The ledger's rows for the sessions in view, each read by name (no scan)."""
    out = LedgerFacts()
    for sid in [*facts.sessions, *facts.missing]:
        topup = service.find_row(keys.topup_name(sid))
        if topup is None:
            continue
        out.topups[sid] = topup
        if service.find_row(reversal_name(sid)) is not None:
            out.reversed.add(sid)
        fact = facts.sessions.get(sid)
        if fact is not None and fact.charge is not None:
            out.refunded[sid] = recorded_refund(topup, fact.charge.charge_id, service.find_row)
    return out


def repair(
    service: CreditsService,
    gateway: StripeGateway,
    report: Report,
    *,
    tenant: str,
    lister: StripeLister | None = None,
) -> list[RepairResult]:
    """Apply every repairable line once (see module docstring); the others are left to a human."""
    lister = lister or StripeLister(gateway)
    done = []
    for d in report.drift:
        if d.repair is None:
            done.append(RepairResult(d, "skipped", d.row, "needs a human: " + d.detail))
            continue
        try:
            done.append(_repair_one(service, gateway, lister, d, tenant))
        except CreditsError as exc:
            done.append(RepairResult(d, "failed", d.row, f"{exc.code}: {exc.message}"))
    report.repairs = done
    return done


def _repair_one(
    service: CreditsService, gateway: StripeGateway, lister: StripeLister, d: Drift, tenant: str
) -> RepairResult:
    if d.repair in ("credit", "take_back") and d.session:
        paid = gateway.paid_session(d.session)
        charge = refund_sync.session_charge(gateway, d.session) if paid.payment_intent else None
        got = refund_sync.settle_paid_session(service, paid, charge, tenant=tenant, via="reconcile")
        if not got.topup.replayed:
            return RepairResult(d, "credited", got.topup.row.name, f"+{got.topup.row.delta} credits")
        if got.refund is not None:
            return RepairResult(d, "taken_back", got.refund.name, str(got.refund.meta.get("reason", "")))
        return RepairResult(d, "nothing_to_do", d.row, "already settled")
    if d.repair == "reverse" and d.session:
        obj = lister.retrieve_session(d.session)
        fact = session_fact(obj) if obj is not None else None
        if fact is None or fact.paid is not None:
            return RepairResult(d, "skipped", d.row, "the session changed at Stripe since; reconcile again")
        row = service.reverse_top_up(d.session, f"{fact.status}/{fact.payment_status}")
        return RepairResult(d, "reversed", row.name, str(row.meta.get("reason", "")))
    if d.repair == "sync_plan" and d.subscription:
        billing = _billing()
        if billing is not None:
            return billing.repair_plan(service, gateway, d, tenant)
    return RepairResult(d, "skipped", d.row, "no repair path for this line")


def _billing() -> Any:
    """The subscription side (``reconcile.plans``) when this build has Stripe subscriptions, else None."""
    try:
        from . import plans
    except ImportError:
        return None
    return plans if plans.available() else None
