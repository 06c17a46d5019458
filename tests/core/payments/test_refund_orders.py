"""Every delivery order of confirm / completed / charge.refunded converges (issue 12, item 3).

Stripe's side happens in order (paid, then refunds), but what reaches the app
— the buyer's confirm, ``checkout.session.completed``, each ``charge.refunded``
and their redeliveries — may come in any order after the thing it reports.
All such orders are run, each on a fresh session, through the production
gateway against the stand-in and a SQLite ledger.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import pairwise, permutations
from pathlib import Path

import pytest

from credits_core import CreditsService, FixedClock, SqliteStore
from credits_core.registry import MemoryRegistryRepository
from credits_core.stores.base import RowFilter
from tests.core.payments.support import PACK_CREDITS, PACK_PRICE, App, gateway_for
from tests.standins.stripe import FakeStripe

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)

# Steps: "refund:<amount>" happens at Stripe and makes event e<i>; "e<i>" delivers it.
PARTIAL = (["refund:600", "confirm", "completed", "e1", "e1"], 600)  # 40 %, delivered twice
FULL = (["refund:600", "refund:rest", "confirm", "completed", "e1", "e2", "e2"], PACK_PRICE)


def orders(steps: list[str]) -> list[tuple[str, ...]]:
    """Distinct orders where each refund precedes the next and its own deliveries."""
    refunds = [i for i, s in enumerate(steps) if s.startswith("refund:")]

    def valid(p: tuple[int, ...]) -> bool:
        at = {i: p.index(i) for i in range(len(steps))}
        if any(at[a] > at[b] for a, b in pairwise(refunds)):
            return False
        return all(at[refunds[int(s[1:]) - 1]] < at[i] for i, s in enumerate(steps) if s.startswith("e"))

    seen = {tuple(steps[i] for i in p) for p in permutations(range(len(steps))) if valid(p)}
    return sorted(seen)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "ledger.sqlite3")
    yield store
    store.close()


@pytest.fixture
def app(store: SqliteStore) -> Iterator[App]:
    with FakeStripe(lifetime_s=300) as fake:
        service = CreditsService(store, MemoryRegistryRepository(), clock=FixedClock(T0))
        yield App(service, gateway_for(fake), fake)


def run(app: App, user: str, order: tuple[str, ...]) -> tuple[str, int]:
    """Play ``order`` for a fresh session; its id and Stripe's refunded amount when it was credited."""
    sid = app.buy(user)
    events: list[bytes] = []
    credited_at = -1
    for step in order:
        if step.startswith("refund:"):
            amount = None if step == "refund:rest" else int(step.split(":")[1])
            events.append(app.fake.charge_refunded(sid, amount=amount))
            continue
        if step == "confirm":
            app.confirm(user, sid)
        elif step == "completed":
            answer = app.hook(app.fake.event_for("checkout.session.completed", sid))
            assert answer["action"] in ("credited", "replayed")
        else:
            answer = app.hook(events[int(step[1:]) - 1])
            assert answer["action"] in ("credited", "refund_recorded")
        if credited_at < 0 and app.service.find_row(f"CZ_SMCR|topup|{sid}") is not None:
            credited_at = _refunded(app.fake, sid)
    return sid, credited_at


def _refunded(fake: FakeStripe, sid: str) -> int:
    with fake._lock:
        charge = fake._sessions[sid].charge
        return charge["amount_refunded"] if charge else 0


@pytest.mark.parametrize("case", [PARTIAL, FULL], ids=["partial-40", "partial-then-full"])
def test_every_order_credits_exactly_the_unrefunded_share(app: App, store: SqliteStore, case: tuple[list[str], int]):
    steps, final_refunded = case
    all_orders = orders(steps)
    assert len(all_orders) == (20 if case is PARTIAL else 168)  # distinct orders (repeated steps merged)
    want_net = PACK_CREDITS - PACK_CREDITS * final_refunded // PACK_PRICE
    for n, order in enumerate(all_orders):
        user = f"order_{case is FULL}_{n}"
        _, credited_at = run(app, user, order)
        rows = store.rows(RowFilter(user_id=user))
        topups = [r for r in rows if r.kind == "topup"]
        refunds = [r for r in rows if r.kind == "adjust"]
        assert len(topups) == 1, order  # the session is credited once
        topup = topups[0]
        # credited with what was not refunded when it was credited: never a credit for a refunded payment
        refunded_then = int(topup.meta.get("refundedAmount", 0))
        assert refunded_then == credited_at, order
        assert topup.delta == PACK_CREDITS - PACK_CREDITS * refunded_then // PACK_PRICE, order
        if refunded_then >= PACK_PRICE:
            assert topup.delta == 0 and not refunds, order
        # each refund state of the charge taken into account once, in growing order
        seen = [refunded_then] + [int(r.meta["refundedAmount"]) for r in reversed(refunds)]
        assert seen == sorted(set(seen)), order
        assert all(not r.meta.get("short") for r in refunds), order
        net = sum(r.delta for r in topups + refunds)
        assert net == want_net == store.account(user).balance.purchased, order
