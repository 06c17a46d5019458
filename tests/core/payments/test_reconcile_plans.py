"""Reconciliation of plans with Stripe subscriptions (found through subscriptions and paid invoices)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from credits_core import CreditsService, FixedClock, MemoryStore
from credits_core.payments.plan_sync import request_plan, sync_subscription
from credits_core.payments.subscriptions import StripeSubscriptions
from credits_core.reconcile import StripeLister, reconcile, repair
from credits_core.registry import NO_PLAN
from tests.core.payments.support import TENANT, gateway_for
from tests.core.payments.test_refund_orders import T0
from tests.standins.stripe import FakeStripe


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe(lifetime_s=120) as f:
        yield f  # no webhook URL: subscription events are never delivered (lost)


@pytest.fixture
def service() -> CreditsService:
    return CreditsService(MemoryStore(), clock=FixedClock(T0), starter_plan=NO_PLAN)


def subscribe(service: CreditsService, fake: FakeStripe, user: str, plan: str = "intelligence") -> str:
    subs = StripeSubscriptions(gateway_for(fake))
    answer = request_plan(service, subs, user, plan, tenant=TENANT)
    assert answer.checkout is not None and httpx.post(answer.checkout.url, data={}).status_code == 303
    return subs.checkout_subscription(answer.checkout.id, owner=user)


def run(service: CreditsService, fake: FakeStripe):
    gw = gateway_for(fake)
    return reconcile(service, gw, tenant=TENANT, lister=StripeLister(gw, sleep=lambda _s: None, page=2))


def plan_of(service: CreditsService, user: str) -> str:
    return service.state(user, tail=0).plan


def test_a_lost_subscription_event_is_a_plan_mismatch_repaired_once(service: CreditsService, fake: FakeStripe):
    synced = subscribe(service, fake, "u_synced")
    sync_subscription(service, StripeSubscriptions(gateway_for(fake)), synced, tenant=TENANT, via="webhook")
    lost = subscribe(service, fake, "u_lost", "professional")
    report = run(service, fake)
    assert report.checked["subscriptions"] == 2 and report.checked["invoices"] == 2
    (line,) = report.drift
    assert (line.code, line.stripe_id, line.user_id, line.repair) == ("plan_mismatch", lost, "u_lost", "sync_plan")
    assert "ledger plan none" in line.detail and "should be professional" in line.detail
    (done,) = repair(service, gateway_for(fake), report, tenant=TENANT)
    assert done.action == "plan_synced" and done.row and done.row.startswith("CZ_SMCR|plan|u_lost|")
    assert plan_of(service, "u_lost") == "professional"
    rows = sum(1 for _ in service.iter_rows())
    assert run(service, fake).drift == []
    assert repair(service, gateway_for(fake), report, tenant=TENANT)[0].action == "nothing_to_do"
    assert sum(1 for _ in service.iter_rows()) == rows


def test_a_subscription_canceled_at_stripe_ends_the_plan(service: CreditsService, fake: FakeStripe):
    sid = subscribe(service, fake, "u_cancel")
    gw = gateway_for(fake)
    sync_subscription(service, StripeSubscriptions(gw), sid, tenant=TENANT, via="webhook")
    assert httpx.delete(f"{fake.url}/v1/subscriptions/{sid}", auth=(fake.secret_key, "")).status_code == 200
    (line,) = run(service, fake).drift
    assert line.code == "plan_mismatch" and "should be none" in line.detail
    repair(service, gw, run(service, fake), tenant=TENANT)
    assert plan_of(service, "u_cancel") == NO_PLAN and run(service, fake).drift == []


def test_a_plan_row_naming_an_unknown_subscription(service: CreditsService, fake: FakeStripe):
    service.change_plan("u_typo", "intelligence", subscription="sub_1DoesNotExist")
    (line,) = run(service, fake).drift
    assert (line.code, line.stripe_id, line.repair) == ("stripe_object_missing", "sub_1DoesNotExist", None)
    assert line.row and line.row.startswith("CZ_SMCR|plan|u_typo|")
