"""Reliability scenarios of Stripe refunds (issue 12, items 3 and 4), registered in ``bench.reliability``.

Two real ``streamlit run app.py`` servers on one SQLite file, the Clerk and
Stripe stand-ins; every delivery is a signed webhook or an API call over
HTTP, sent concurrently to both servers in a shuffled order.
"""

from __future__ import annotations

import random
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from credits_core import SqliteStore
from credits_core.stores.base import RowFilter
from tests.standins.clerk_jwks import ClerkStandIn
from tests.standins.stripe import FakeStripe

PACK, CREDITS, PRICE = "pack_100", 100, 1500


def refund_before_credit(tmp: Path, clerk: ClerkStandIn, quick: bool) -> Any:
    """Sessions refunded (fully or 40 %) at Stripe before anything is credited, then every path at once."""
    n = 16 if quick else 60
    with _stack(tmp, clerk) as (fake, urls, client):
        plan = []
        for i in range(n):
            user, sid = _paid_session(fake, urls[0], client, clerk, f"early_{i}")
            refund = fake.charge_refunded(sid, amount=None if i % 2 == 0 else 600)
            completed = fake.event_for("checkout.session.completed", sid)
            plan.append((user, sid, refund, completed))
        jobs = []
        for user, sid, refund, completed in plan:
            jobs += [("hook", refund), ("hook", refund), ("hook", completed), ("hook", completed)]
            jobs += [("confirm", (user, sid)), ("confirm", (user, sid))]
        statuses = _send_all(fake, urls, client, clerk, jobs)
    ledger = tmp / "ledger.sqlite3"
    wrong, credited_full = _check(ledger, [(u, s, 0 if i % 2 == 0 else 60) for i, (u, s, *_) in enumerate(plan)])
    given = sum(1 for i, (u, s, *_) in enumerate(plan) if i % 2 == 0 and s in credited_full)
    ok = not wrong and given == 0 and set(statuses) == {200}
    from .reliability import Outcome, _consistency_problems

    problems = _consistency_problems(ledger)
    return Outcome(
        "refund before credit (nothing credited for a refunded payment)",
        f"{n} sessions refunded first (half fully, half 40 %), {len(jobs)} deliveries + confirms, 2 servers",
        "full refund → 0 credited; 40 % → exactly 60",
        f"wrong {len(wrong)}; credits given for refunded payments {given}; statuses {dict(_count(statuses))}"
        + (f"; {problems[:2]}" if problems else "") + (f"; e.g. {wrong[:2]}" if wrong else ""),
        len(wrong) + given,
        ok and not problems,
    )


def concurrent_partial_refunds(tmp: Path, clerk: ClerkStandIn, quick: bool) -> Any:
    """Credited sessions; two partial refunds (30 % + 30 %) delivered at once, twice each, to both servers."""
    n = 16 if quick else 60
    with _stack(tmp, clerk) as (fake, urls, client):
        plan, jobs = [], []
        for i in range(n):
            user, sid = _paid_session(fake, urls[0], client, clerk, f"twin_{i}")
            plan.append((user, sid))
            jobs.append(("confirm", (user, sid)))
        statuses = _send_all(fake, urls, client, clerk, jobs)
        jobs = []
        for _user, sid in plan:
            first, second = fake.charge_refunded(sid, amount=450), fake.charge_refunded(sid, amount=450)
            jobs += [("hook", first), ("hook", second), ("hook", first), ("hook", second)]
        statuses += _send_all(fake, urls, client, clerk, jobs)
    ledger = tmp / "ledger.sqlite3"
    wrong, _ = _check(ledger, [(u, s, CREDITS - 60) for u, s in plan])
    from .reliability import Outcome, _consistency_problems

    problems = _consistency_problems(ledger)
    ok = not wrong and set(statuses) == {200} and not problems
    return Outcome(
        "concurrent partial refunds (exactly the refunded fraction)",
        f"{n} charges × 2 partial refunds (30 % + 30 %) × 2 deliveries, concurrent, 2 servers",
        "exactly 60 of 100 credits taken back per charge",
        f"wrong {len(wrong)}; statuses {dict(_count(statuses))}"
        + (f"; {problems[:2]}" if problems else "") + (f"; e.g. {wrong[:2]}" if wrong else ""),
        len(wrong),
        ok,
    )


SCENARIOS = {"refund-before-credit": refund_before_credit, "concurrent-refunds": concurrent_partial_refunds}


# -- helpers ------------------------------------------------------------------------------------


class _stack:
    """FakeStripe + two app servers configured for it + an HTTP client."""

    def __init__(self, tmp: Path, clerk: ClerkStandIn) -> None:
        self.tmp, self.clerk = tmp, clerk

    def __enter__(self) -> tuple[FakeStripe, list[str], httpx.Client]:
        from .reliability import _servers

        self.fake = FakeStripe(
            secret_key="sk_test_" + secrets.token_hex(12), webhook_secret="whsec_" + secrets.token_hex(16),
            lifetime_s=1800,
        ).start()
        env = {
            "STRIPE_SECRET_KEY": self.fake.secret_key,
            "STRIPE_WEBHOOK_SECRET": self.fake.webhook_secret,
            "STRIPE_API_BASE": self.fake.url,
        }
        self.servers = _servers(self.tmp, self.clerk, count=2, **env)
        urls = self.servers.__enter__()
        self.client = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=32))
        return self.fake, urls, self.client

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.servers.__exit__(*exc)
        self.fake.stop()


def _auth(clerk: ClerkStandIn, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {clerk.mint(user, exp_in=3600)}"}


def _paid_session(fake: FakeStripe, url: str, client: httpx.Client, clerk: ClerkStandIn, user: str) -> tuple[str, str]:
    r = client.post(f"{url}/api/credits-checkout", json={"pack": PACK}, headers=_auth(clerk, user))
    r.raise_for_status()
    sid = r.json()["sessionId"]
    fake.mark_paid(sid)
    return user, sid


def _send_all(fake: FakeStripe, urls: list[str], client: httpx.Client, clerk: ClerkStandIn, jobs: list) -> list[int]:
    """Send every job (a signed webhook or a confirm) concurrently, shuffled, alternating servers."""
    jobs = list(jobs)
    random.Random(12).shuffle(jobs)
    lock = threading.Lock()
    statuses: list[int] = []

    def send(i_job: tuple[int, tuple[str, Any]]) -> None:
        i, (kind, arg) = i_job
        url = urls[i % len(urls)]
        if kind == "hook":
            r = client.post(f"{url}/api/stripe-webhook", content=arg, headers={"Stripe-Signature": fake.sign(arg)})
        else:
            user, sid = arg
            r = client.post(f"{url}/api/credits-checkout/confirm", json={"sessionId": sid}, headers=_auth(clerk, user))
        with lock:
            statuses.append(r.status_code)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(send, enumerate(jobs)))
    return statuses


def _check(ledger: Path, expected: list[tuple[str, str, int]]) -> tuple[list[str], set[str]]:
    """Sessions whose purchased credits differ from expected; sessions credited with the whole pack."""
    store = SqliteStore(ledger)
    try:
        wrong, full = [], set()
        for user, sid, want in expected:
            rows = store.rows(RowFilter(user_id=user, kinds=("topup", "adjust")))
            topups = [r for r in rows if r.kind == "topup"]
            net = store.account(user).balance.purchased
            if len(topups) != 1 or net != want or sum(r.delta for r in rows) != want:
                wrong.append(f"{user}: {len(topups)} top-ups, purchased {net}, want {want}")
            if any(r.delta == CREDITS for r in topups):
                full.add(sid)
        return wrong, full
    finally:
        store.close()


def _count(statuses: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for s in statuses:
        out[s] = out.get(s, 0) + 1
    return out
