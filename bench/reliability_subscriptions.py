"""Reliability rows for plans as Stripe subscriptions (registered in ``bench.reliability``).

* Subscription events redelivered ×3 and shuffled across users, some
  subscriptions changed at Stripe before any event arrived: each user ends
  with one plan row (Stripe's present plan) and one upgrade grant.
* A user's token asking ``/api/credits-plan`` to apply a plan: 403
  ``subscription_required`` every time, nothing written.

Servers are real `streamlit run app.py` processes on 127.0.0.1 (users start
without a plan), Stripe is the local stand-in.
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from credits_core import SqliteStore
from credits_core.stores.base import RowFilter
from tests.standins.clerk_jwks import ClerkStandIn
from tests.standins.stripe import FakeStripe


def _stripe_env(fake: FakeStripe) -> dict[str, str]:
    return {
        "STRIPE_SECRET_KEY": fake.secret_key,
        "STRIPE_WEBHOOK_SECRET": fake.webhook_secret,
        "STRIPE_API_BASE": fake.url,
        "CZ_STARTER_PLAN": "none",
        "CZ_CLOCK": "2026-11-10T12:00:00Z",  # one ledger month for the whole run
    }


def _change_at_stripe(fake: FakeStripe, sub_id: str, plan: str, amount: int) -> None:
    """What a change in Stripe's dashboard / portal does: a new price and plan_id, prorated."""
    item = fake.subscription(sub_id)["items"]["data"][0]
    form = {
        "items[0][id]": item["id"],
        "items[0][price_data][currency]": "usd",
        "items[0][price_data][product]": item["price"]["product"],
        "items[0][price_data][unit_amount]": str(amount),
        "items[0][price_data][recurring][interval]": "month",
        "metadata[plan_id]": plan,
    }
    r = httpx.post(
        f"{fake.url}/v1/subscriptions/{sub_id}", data=form, headers={"Authorization": f"Bearer {fake.secret_key}"}
    )
    r.raise_for_status()


def subscription_events_redelivered(tmp: Path, clerk: ClerkStandIn, quick: bool) -> Any:
    """Users subscribe with the webhook held back; every event then arrives 3 times, shuffled."""
    from .reliability import Outcome, _servers

    n_users = 4 if quick else 12
    users = [f"sub_rel_{i}" for i in range(n_users)]
    expected: dict[str, tuple[str, str]] = {}
    with contextlib.ExitStack() as stack:
        fake = FakeStripe(lifetime_s=900).start()
        stack.callback(fake.stop)
        (url,) = stack.enter_context(_servers(tmp, clerk, **_stripe_env(fake)))
        client = stack.enter_context(httpx.Client(timeout=30))
        for i, user in enumerate(users):
            auth = {"Authorization": f"Bearer {clerk.mint(user, exp_in=3600)}"}
            r = client.post(f"{url}/api/credits-subscription", json={"plan": "intelligence"}, headers=auth)
            r.raise_for_status()
            if client.post(r.json()["url"]).status_code != 303:  # Subscribe on the hosted page
                raise RuntimeError("the hosted checkout page did not complete the subscription")
            sub_id = fake.session(r.json()["sessionId"])["subscription"]
            plan = "intelligence"
            if i % 2:  # changed at Stripe before the app heard of the subscription
                _change_at_stripe(fake, sub_id, "professional", 39900)
                plan = "professional"
            expected[user] = (sub_id, plan)
        ids = [e["id"] for sub_id, _ in expected.values() for e in fake.events_about(sub_id)]
        fake.set_webhook_url(f"{url}/api/stripe-webhook")
        statuses = Counter(fake.redeliver(ids, times=3, shuffle_seed=random.Random(12).randrange(1 << 30)))
    store = SqliteStore(tmp / "ledger.sqlite3")
    try:
        wrong: list[str] = []
        plan_rows = upgrade_rows = 0
        for user, (sub_id, plan) in expected.items():
            plans = store.rows(RowFilter(user_id=user, kinds=("plan",)))
            upgrades = store.rows(RowFilter(user_id=user, kinds=("upgrade",)))
            plan_rows += len(plans)
            upgrade_rows += len(upgrades)
            ok_user = (
                len(plans) == 1
                and plans[0].meta.get("plan") == plan
                and plans[0].meta.get("subscription") == sub_id
                and len(upgrades) == 1
            )
            if not ok_user:
                wrong.append(f"{user}: plans {[p.meta.get('plan') for p in plans]}, upgrades {len(upgrades)}")
    finally:
        store.close()
    ok = not wrong and statuses == Counter({200: len(ids) * 3})
    return Outcome(
        "subscription events redelivered ×3 and shuffled",
        f"{n_users} subscribers (half changed at Stripe first), {len(ids)} events × 3 = {len(ids) * 3} deliveries",
        "1 plan row (Stripe's plan) and 1 upgrade grant per user",
        f"plan rows {plan_rows}; upgrade grants {upgrade_rows}; statuses {dict(statuses)}"
        + (f"; wrong: {wrong[:2]}" if wrong else ""),
        len(wrong),
        ok,
    )


def token_applies_plan(tmp: Path, clerk: ClerkStandIn, quick: bool) -> Any:
    """A user's own token asks to apply plans (every shape of the request): 403, nothing written."""
    from .reliability import Outcome, _servers

    users = [f"plan_token_{i}" for i in range(3 if quick else 10)]
    bodies = [
        {"plan": "professional"},
        {"plan": "intelligence", "dryRun": False},
        {"plan": "base", "requestId": "mine-1"},
        {"plan": "professional", "userId": "{user}"},
    ]
    statuses: Counter[int] = Counter()
    codes: Counter[str] = Counter()
    with contextlib.ExitStack() as stack:
        fake = FakeStripe(lifetime_s=900).start()
        stack.callback(fake.stop)
        (url,) = stack.enter_context(_servers(tmp, clerk, **_stripe_env(fake)))
        client = stack.enter_context(httpx.Client(timeout=30))
        before = _count_rows(tmp / "ledger.sqlite3")
        for user in users:
            auth = {"Authorization": f"Bearer {clerk.mint(user, exp_in=3600)}"}
            for body in bodies:
                body = {k: (v.format(user=user) if isinstance(v, str) else v) for k, v in body.items()}
                r = client.post(f"{url}/api/credits-plan", json=body, headers=auth)
                statuses[r.status_code] += 1
                error = r.json().get("error") or {}
                codes[str(error.get("code"))] += 1
        after = _count_rows(tmp / "ledger.sqlite3")
    tried = len(users) * len(bodies)
    written = after - before
    ok = statuses == Counter({403: tried}) and codes == Counter({"subscription_required": tried}) and written == 0
    return Outcome(
        "a user's token applying a plan",
        f"{tried} requests, {len(users)} users",
        "403 subscription_required, nothing written",
        f"statuses {dict(statuses)}; codes {dict(codes)}; rows written {written}",
        written + (tried - codes["subscription_required"]),
        ok,
    )


def _count_rows(ledger: Path) -> int:
    if not ledger.exists():
        return 0
    store = SqliteStore(ledger)
    try:
        return len(store.rows())
    finally:
        store.close()


SCENARIOS = {
    "subscription-events": subscription_events_redelivered,
    "plan-token": token_applies_plan,
}
