"""Plans from Stripe subscriptions on the memory store: one path, exactly once, any event order.

The production gateway talks to the Stripe stand-in; events are taken from
the stand-in's store and handed to ``handle_subscription_event`` after the
gateway verified them, in whatever order a test wants. The ledger's clock is
fixed (a month of 2026), Stripe's objects use the stand-in's own time.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from credits_core import CreditsService, FixedClock, MemoryStore
from credits_core.errors import Forbidden, NoSubscription
from credits_core.payments import StripeGateway
from credits_core.payments.plan_sync import (
    confirm_subscription_checkout,
    handle_subscription_event,
    request_plan,
    sync_subscription,
)
from credits_core.payments.subscriptions import StripeSubscriptions
from credits_core.registry import NO_PLAN
from credits_core.stores.base import LedgerStore, RowFilter
from tests.standins.stripe import FakeStripe

TENANT = "cityzeen"
SECRET = "sk_test_plan_sync_0123456789"
USER = "user_sub_1"
INTELLIGENCE, PROFESSIONAL = 400, 1500  # monthlyIncluded of the default registry


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe(secret_key=SECRET, lifetime_s=120) as f:
        yield f  # no webhook URL: events are stored, and delivered by the tests


@pytest.fixture
def subs(fake: FakeStripe) -> StripeSubscriptions:
    return StripeSubscriptions(gateway(fake))


@pytest.fixture
def service(
    store: MemoryStore,
) -> CreditsService:
    clock = FixedClock(datetime(2026, 11, 10, 12, tzinfo=UTC))
    return CreditsService(store, clock=clock, starter_plan=NO_PLAN)


def gateway(fake: FakeStripe) -> StripeGateway:
    return StripeGateway(
        SECRET, webhook_secret=fake.webhook_secret, api_base=fake.url, public_app_url="https://app.example.test"
    )


def subscribe(
    service: CreditsService, subs: StripeSubscriptions, plan: str = "intelligence", user: str = USER
) -> tuple[str, str]:
    """Start a subscription Checkout and pay it on the hosted page → (session id, subscription id)."""
    answer = request_plan(service, subs, user, plan, tenant=TENANT)
    assert answer.action == "checkout" and answer.checkout is not None
    assert httpx.post(answer.checkout.url, data={}).status_code == 303
    sid = subs.checkout_subscription(answer.checkout.id, owner=user)
    return answer.checkout.id, sid


def deliver(service: CreditsService, fake: FakeStripe, events: list[dict[str, Any]]) -> list[str]:
    """Verify each event with the gateway (signed by the stand-in) and handle it → actions."""
    gw = gateway(fake)
    out = []
    for e in events:
        payload = fake._encode(e)
        parsed = gw.parse_webhook(payload, fake.sign(payload))
        assert parsed is not None and parsed.subscription_id is not None, e["type"]
        out.append(handle_subscription_event(service, StripeSubscriptions(gw), parsed, tenant=TENANT)["action"])
    return out


def rows(store: LedgerStore, *kinds: str, user: str = USER) -> list:
    return list(reversed(store.rows(RowFilter(user_id=user, kinds=kinds))))


def plan_of(service: CreditsService, user: str = USER) -> str:
    return service.state(user, tail=0).plan


def test_a_new_server_user_has_no_plan_until_stripe_confirms(service: CreditsService, store, fake: FakeStripe, subs):
    assert plan_of(service) == NO_PLAN
    session_id, sub_id = subscribe(service, subs)
    assert plan_of(service) == NO_PLAN  # paid, but nothing confirmed yet
    first = confirm_subscription_checkout(service, subs, USER, session_id, tenant=TENANT, via="confirm")
    assert (first.action, first.plan, first.subscription_id) == ("changed", "intelligence", sub_id)
    assert plan_of(service) == "intelligence"
    [plan_row] = rows(store, "plan")
    assert plan_row.meta["subscription"] == sub_id and plan_row.meta["via"] == "confirm"
    assert (plan_row.meta["stripeStatus"], plan_row.meta["subscriptionRegistryVersion"]) == ("active", 1)
    assert plan_row.name == f"CZ_SMCR|plan|{USER}|stripe:{sub_id}:intelligence:start"
    assert [r.delta for r in rows(store, "upgrade")] == [INTELLIGENCE]
    again = confirm_subscription_checkout(service, subs, USER, session_id, tenant=TENANT, via="confirm")
    assert again.action == "unchanged"
    assert deliver(service, fake, fake.events_about(sub_id)) == ["unchanged"] * 3
    assert len(rows(store, "plan")) == 1 and service.state(USER, tail=0).balance.included == INTELLIGENCE


def test_events_redelivered_three_times_and_shuffled_write_one_plan_row(service, store, fake: FakeStripe, subs):
    _, sub_id = subscribe(service, subs)
    events = fake.events_about(sub_id) * 3
    random.Random(3).shuffle(events)
    actions = deliver(service, fake, events)
    assert actions.count("plan_changed") == 1 and set(actions) == {"plan_changed", "unchanged"}
    assert len(rows(store, "plan")) == 1 and len(rows(store, "upgrade")) == 1


def test_updated_before_created_converges_on_stripes_present_state(service, store, fake: FakeStripe, subs):
    _, sub_id = subscribe(service, subs)
    # Changed at Stripe (say, in Stripe's customer portal) before any event reached us.
    subs.change_plan(
        subs.retrieve(sub_id),
        plan_id="professional",
        plan_label="Professional",
        unit_amount=39900,
        currency="usd",
        registry_version=1,
    )
    assert plan_of(service) == NO_PLAN
    created = fake.events_about(sub_id, ["customer.subscription.created"])
    updated = fake.events_about(sub_id, ["customer.subscription.updated"])
    assert deliver(service, fake, updated + created) == ["plan_changed", "unchanged"]
    assert plan_of(service) == "professional"
    assert [r.meta["plan"] for r in rows(store, "plan")] == ["professional"]
    assert [r.delta for r in rows(store, "upgrade")] == [PROFESSIONAL]


def test_deleted_before_updated_ends_the_plan_once_with_a_trim(service, store, fake: FakeStripe, subs):
    session_id, sub_id = subscribe(service, subs)
    confirm_subscription_checkout(service, subs, USER, session_id, tenant=TENANT, via="confirm")
    cancel = request_plan(service, subs, USER, NO_PLAN, tenant=TENANT)
    assert cancel.action == "cancel_at_period_end" and cancel.preview.trimmed == INTELLIGENCE
    assert sync_subscription(service, subs, sub_id, tenant=TENANT, via="account").action == "unchanged"
    assert plan_of(service) == "intelligence"  # kept until the period ends
    fake.end_period(sub_id, notify=False)
    deleted = fake.events_about(sub_id, ["customer.subscription.deleted"])
    updated = fake.events_about(sub_id, ["customer.subscription.updated"])
    assert deliver(service, fake, deleted + updated + deleted) == ["plan_changed", "unchanged", "unchanged"]
    assert [r.meta["plan"] for r in rows(store, "plan")] == ["intelligence", NO_PLAN]
    assert [r.delta for r in rows(store, "trim")] == [-INTELLIGENCE]
    assert service.state(USER, tail=0).balance.included == 0
    with pytest.raises(NoSubscription):
        request_plan(service, subs, USER, NO_PLAN, tenant=TENANT)
    assert request_plan(service, subs, USER, "base", tenant=TENANT).action == "checkout"  # subscribe anew


def test_switching_a_b_a_b_writes_each_transition_and_grants_once(service, store, fake: FakeStripe, subs):
    session_id, sub_id = subscribe(service, subs)
    confirm_subscription_checkout(service, subs, USER, session_id, tenant=TENANT, via="confirm")
    for plan in ("professional", "intelligence", "professional"):
        assert request_plan(service, subs, USER, plan, tenant=TENANT).action == "updated"
        assert sync_subscription(service, subs, sub_id, tenant=TENANT, via="webhook").action == "changed"
    plans = rows(store, "plan")
    assert [r.meta["plan"] for r in plans] == ["intelligence", "professional", "intelligence", "professional"]
    assert len({r.name for r in plans}) == 4
    assert [r.delta for r in rows(store, "upgrade")] == [INTELLIGENCE, PROFESSIONAL - INTELLIGENCE]
    assert deliver(service, fake, fake.events_about(sub_id) * 2).count("plan_changed") == 0


def test_confirm_and_webhooks_racing_write_one_plan_row(service, store, fake: FakeStripe, subs):
    session_id, sub_id = subscribe(service, subs)
    events = fake.events_about(sub_id)
    barrier = threading.Barrier(8)
    results: list[str] = []

    def confirm() -> None:
        barrier.wait()
        results.append(
            confirm_subscription_checkout(service, subs, USER, session_id, tenant=TENANT, via="confirm").action
        )

    def hook(e: dict[str, Any]) -> None:
        barrier.wait()
        results.extend(deliver(service, fake, [e]))

    threads = [threading.Thread(target=confirm) for _ in range(4)]
    threads += [threading.Thread(target=hook, args=(e,)) for e in itertools.islice(itertools.cycle(events), 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 8
    assert len(rows(store, "plan")) == 1 and len(rows(store, "upgrade")) == 1
    assert plan_of(service) == "intelligence"


def test_late_events_of_an_old_subscription_do_not_end_a_newer_one(service, fake: FakeStripe, subs):
    s1, sub1 = subscribe(service, subs)
    confirm_subscription_checkout(service, subs, USER, s1, tenant=TENANT, via="confirm")
    request_plan(service, subs, USER, NO_PLAN, tenant=TENANT)
    fake.end_period(sub1, notify=False)
    sync_subscription(service, subs, sub1, tenant=TENANT, via="webhook")
    assert plan_of(service) == NO_PLAN
    s2, _ = subscribe(service, subs, "professional")
    confirm_subscription_checkout(service, subs, USER, s2, tenant=TENANT, via="confirm")
    assert deliver(service, fake, fake.events_about(sub1)) == ["unchanged"] * 5
    assert plan_of(service) == "professional"
    # an admin's plan is not Stripe's to end either
    admin_user = "user_admin_set"
    service.change_plan(admin_user, "intelligence", request_id="admin-1")
    _, sub3 = subscribe(service, subs, "base", user="user_other")
    assert sync_subscription(service, subs, sub3, tenant=TENANT, via="webhook").plan == "base"
    assert plan_of(service, admin_user) == "intelligence"


def test_ownership_tenant_and_unknown_subscriptions(service, store, fake: FakeStripe, subs):
    session_id, sub_id = subscribe(service, subs)
    with pytest.raises(Forbidden):
        confirm_subscription_checkout(service, subs, "user_thief", session_id, tenant=TENANT, via="confirm")
    assert sync_subscription(service, subs, sub_id, tenant="other-tenant", via="webhook").action == "ignored"
    assert rows(store, "plan") == []
    assert plan_of(service) == NO_PLAN
