"""What Stripe says, for a window: Checkout Sessions, refunds, subscriptions and invoices.

Every list goes through the official client's auto-pagination
(``client.v1.<resource>.list(params).auto_paging_iter()``: ``starting_after``
cursors, https://docs.stripe.com/api/pagination). A 429 is waited out and the
walk resumes after the last object seen: ``Retry-After`` when Stripe sends it,
else an exponential back-off; ``Stripe-Should-Retry: false`` stops at once
(https://docs.stripe.com/rate-limits). Any other failure is a
``PaymentsUnavailable`` (a clear message, no Stripe text, no key) — raised
before reconciliation decides or writes anything.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import stripe

from ..errors import CheckoutNotFound, PaymentsUnavailable
from ..payments.events import NotOurs, PaidSession, as_int, paid_from
from ..payments.refund_sync import EXPAND_CHARGE, charge_of
from ..payments.stripe_gateway import StripeGateway, provider_error
from ..policy.stripe_refunds import ChargeState

Progress = Callable[[float, str], None]
PAGE = 100  # Stripe's largest page


@dataclass(frozen=True)
class SessionFact:
    """One Checkout Session of ours (payment mode), paid or not."""

    id: str
    created: int
    status: str
    payment_status: str
    user_id: str
    pack_id: str
    credits: int
    amount_total: int
    currency: str
    tenant: str
    paid: PaidSession | None = None
    charge: ChargeState | None = None


@dataclass
class StripeFacts:
    """Everything listed for one window, by id."""

    sessions: dict[str, SessionFact] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)  # id → why: "no such object" / "not a top-up of ours"
    refunds: int = 0
    subscriptions: dict[str, Any] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: int = 0
    waits: list[float] = field(default_factory=list)


class StripeLister:
    """Lists Stripe objects with auto-pagination and 429 back-off (see module docstring)."""

    def __init__(
        self,
        gateway: StripeGateway,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_waits: int = 6,
        max_wait_s: float = 30.0,
        page: int = PAGE,
    ) -> None:
        self.client = gateway.client
        self.sleep, self.max_waits, self.max_wait_s = sleep, max_waits, max_wait_s
        self.page = page
        self.waits: list[float] = []
        self.calls = 0

    def each(self, resource: Any, params: dict[str, Any], what: str) -> Iterator[dict[str, Any]]:
        """Every object of ``resource.list(params)``, all pages, resuming after a 429."""
        last: str | None = None
        waited = 0
        while True:
            try:
                self.calls += 1
                page = resource.list(params={**params, **({"starting_after": last} if last else {})})
                for obj in page.auto_paging_iter():
                    data = obj.to_dict()
                    last = str(data.get("id"))
                    waited = 0
                    yield data
                return
            except stripe.RateLimitError as e:
                waited += 1
                self.sleep(self.wait_for(e, waited, what))
            except stripe.StripeError as e:
                raise provider_error(e, f"list {what}") from None

    def retrieve_session(self, session_id: str) -> dict[str, Any] | None:
        """One session with its charge; None when Stripe has no such session."""
        for attempt in range(1, self.max_waits + 2):
            try:
                self.calls += 1
                return self.client.v1.checkout.sessions.retrieve(
                    session_id, params={"expand": [EXPAND_CHARGE]}
                ).to_dict()
            except stripe.InvalidRequestError as e:
                if e.http_status == 404 or e.code == "resource_missing":
                    return None
                raise provider_error(e, "read a checkout session") from None
            except stripe.RateLimitError as e:
                self.sleep(self.wait_for(e, attempt, "checkout sessions"))
            except stripe.StripeError as e:
                raise provider_error(e, "read a checkout session") from None
        raise CheckoutNotFound()  # pragma: no cover - _wait raises first

    def wait_for(self, e: stripe.RateLimitError, attempt: int, what: str) -> float:
        headers = {str(k).lower(): v for k, v in (e.headers or {}).items()}
        if attempt > self.max_waits or headers.get("stripe-should-retry") == "false":
            raise PaymentsUnavailable(
                f"Stripe kept rate-limiting the listing of {what}; nothing was changed. Try again later.",
                reason="rate_limited",
            )
        try:
            wait = float(headers["retry-after"])
        except (KeyError, ValueError):
            wait = 0.5 * 2 ** (attempt - 1) * (0.5 + random.random() / 2)
        wait = max(0.0, min(wait, self.max_wait_s))
        self.waits.append(wait)
        return wait


def _window(since: datetime | None, until: datetime | None) -> dict[str, Any]:
    created: dict[str, int] = {}
    if since is not None:
        created["gte"] = int(since.timestamp())
    if until is not None:
        created["lt"] = int(until.timestamp())
    return {"created": created} if created else {}


def session_fact(obj: Mapping[str, Any]) -> SessionFact | None:
    """A session of ours (a top-up this app created), or None."""
    if obj.get("object") != "checkout.session" or obj.get("mode") != "payment":
        return None
    meta = obj.get("metadata") or {}
    try:
        paid = paid_from(obj)
        credits = as_int(meta.get("credits"))
    except NotOurs:
        return None
    return SessionFact(
        id=str(obj["id"]),
        created=as_int(obj.get("created") or 0),
        status=str(obj.get("status")),
        payment_status=str(obj.get("payment_status")),
        user_id=str(meta.get("user_id")),
        pack_id=str(meta.get("pack_id")),
        credits=credits,
        amount_total=as_int(obj.get("amount_total") or 0),
        currency=str(obj.get("currency") or ""),
        tenant=str(meta.get("tenant")),
        paid=paid,
        charge=charge_of(obj),
    )


def list_facts(
    lister: StripeLister,
    since: datetime | None,
    until: datetime | None,
    *,
    progress: Progress | None = None,
    with_billing: bool = False,
) -> StripeFacts:
    """Sessions, refunds (their sessions too), and — when ``with_billing`` — subscriptions and invoices."""
    facts = StripeFacts()
    note = progress or (lambda _f, _t: None)
    window = _window(since, until)
    lo, hi = window.get("created", {}).get("gte"), window.get("created", {}).get("lt")
    sessions = lister.client.v1.checkout.sessions
    note(0.0, "Listing Stripe checkout sessions")
    params = {**window, "limit": lister.page, "expand": [f"data.{EXPAND_CHARGE}"]}
    for n, obj in enumerate(lister.each(sessions, params, "checkout sessions"), start=1):
        fact = session_fact(obj)
        if fact is not None:
            facts.sessions[fact.id] = fact
        if n % lister.page == 0:  # newest first: how far back in the window the walk is
            span = (hi or int(time.time())) - (lo or 0)
            done = ((hi or int(time.time())) - as_int(obj.get("created") or 0)) / span if lo and span > 0 else 0.5
            note(min(0.6, 0.6 * done), f"Listed {n:,} checkout sessions")
    note(0.6, "Listing Stripe refunds")
    known = {s.paid.payment_intent for s in facts.sessions.values() if s.paid is not None}
    for refund in lister.each(lister.client.v1.refunds, {**window, "limit": lister.page}, "refunds"):
        facts.refunds += 1
        pi = refund.get("payment_intent")
        if isinstance(pi, str) and pi not in known:
            known.add(pi)
            found = list(
                lister.each(
                    sessions,
                    {"payment_intent": pi, "limit": 1, "expand": [f"data.{EXPAND_CHARGE}"]},
                    "checkout sessions",
                )
            )
            fact = session_fact(found[0]) if found else None
            if fact is not None:
                facts.sessions[fact.id] = fact
    if with_billing and hasattr(lister.client.v1, "subscriptions"):
        note(0.75, "Listing Stripe subscriptions")
        params = {**window, "limit": lister.page, "status": "all"}
        for sub in lister.each(lister.client.v1.subscriptions, params, "subscriptions"):
            facts.subscriptions[str(sub.get("id"))] = sub
        note(0.85, "Listing Stripe invoices")
        for inv in lister.each(
            lister.client.v1.invoices, {**window, "limit": lister.page, "status": "paid"}, "invoices"
        ):
            facts.invoices[str(inv.get("id"))] = inv
    facts.calls, facts.waits = lister.calls, list(lister.waits)
    note(0.9, "Comparing with the ledger")
    return facts


def add_session(lister: StripeLister, facts: StripeFacts, session_id: str) -> None:
    """Look one session up by id (a ledger row names it but the window did not list it)."""
    obj = lister.retrieve_session(session_id)
    if obj is None:
        facts.missing[session_id] = "Stripe has no such checkout session"
        return
    fact = session_fact(obj)
    if fact is not None:
        facts.sessions[fact.id] = fact
    else:
        facts.missing[session_id] = "the checkout session is not a top-up of this app"
    facts.calls = lister.calls
