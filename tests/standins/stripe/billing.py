"""Stripe Billing for the stand-in: customers, subscriptions, invoices and their events.

Mixed into :class:`tests.standins.stripe.FakeStripe`. Paying a
``mode=subscription`` Checkout Session on the hosted page creates a customer,
an active subscription (its one item priced from the session's recurring
``price_data``, its metadata from ``subscription_data[metadata]``) and a paid
invoice, and sends ``customer.subscription.created``, ``invoice.paid`` and
``checkout.session.completed`` to the webhook, each signed.

Object shapes follow Stripe's API reference at the API version the stand-in
speaks (``2026-10-28.endive``, newer than ``2025-03-31.basil``):

* Subscription (https://docs.stripe.com/api/subscriptions/object):
  ``status``, ``cancel_at_period_end``, ``cancel_at``, ``canceled_at``,
  ``ended_at``, ``items.data[].price``. Since basil the billing period lives
  on the items, ``items.data[].current_period_start|end``; the subscription has
  none (changelog "Adds subscription item-level billing periods and removes
  subscription-level periods", https://docs.stripe.com/changelog/basil/2025-03-31/deprecate-subscription-current-period-start-and-end).
* Invoice (https://docs.stripe.com/api/invoices/object): since basil its
  subscription is ``parent.subscription_details.subscription`` (no top-level
  ``subscription``).
* Update (https://docs.stripe.com/api/subscriptions/update):
  ``items[0][id]`` + ``items[0][price_data][currency|product|unit_amount|recurring][interval]``
  (subscription ``price_data`` takes a ``product`` id, not ``product_data``),
  ``proration_behavior`` = ``create_prorations`` (default) | ``none`` |
  ``always_invoice``, ``metadata`` (an empty value deletes a key),
  ``cancel_at_period_end``. A canceled subscription only takes metadata.
  ``customer.subscription.updated`` carries ``data.previous_attributes``.
* ``DELETE /v1/subscriptions/<id>`` cancels now (``customer.subscription.deleted``);
  ``GET /v1/subscriptions`` lists the ones not canceled unless ``status=all``.

Test controls: ``subscription``, ``subscriptions``, ``invoices``, ``prorations``,
``end_period`` (the period ends: a subscription set to cancel at period end is
deleted, any other renews with a paid invoice), ``events_about``,
``redeliver`` (stored events, any order, several times, shuffled). The Billing
routes (``/v1/subscriptions``, ``/v1/customers``, ``/v1/invoices``) are in ``billing_api.py``.
"""

from __future__ import annotations

import calendar
import copy
import random
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from .objects import DEFAULT_API_VERSION, rand_id


def add_month(ts: int, months: int = 1) -> int:
    """``ts`` plus calendar months, the day clamped to the month's length (Stripe's monthly anchor)."""
    d = datetime.fromtimestamp(ts, UTC)
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    day = min(d.day, calendar.monthrange(year, month)[1])
    return int(d.replace(year=year, month=month, day=day).timestamp())


class BillingMixin:
    """Customers, subscriptions and invoices of FakeStripe (see module docstring)."""

    # Provided by FakeStripe.
    _lock: Any
    _events: list[dict[str, Any]]

    def _init_billing(self) -> None:
        self._customers: dict[str, dict[str, Any]] = {}
        self._subscriptions: dict[str, dict[str, Any]] = {}
        self._invoices: dict[str, dict[str, Any]] = {}
        self._products: dict[str, dict[str, Any]] = {}
        self._prorations: list[dict[str, Any]] = []
        self._pending_events: dict[str, list[dict[str, Any]]] = {}

    # -- test controls -------------------------------------------------------------

    def subscription(self, subscription_id: str) -> dict[str, Any]:
        """A copy of the subscription as ``GET /v1/subscriptions/<id>`` answers it."""
        with self._lock:
            return copy.deepcopy(self._sub(subscription_id))

    def subscriptions(self) -> list[dict[str, Any]]:
        """Every subscription, oldest first (canceled ones included)."""
        with self._lock:
            return copy.deepcopy(list(self._subscriptions.values()))

    def invoices(self, subscription_id: str | None = None) -> list[dict[str, Any]]:
        """Invoices, oldest first; only those of ``subscription_id`` when given."""
        with self._lock:
            out = [i for i in self._invoices.values() if subscription_id in (None, _invoice_subscription(i))]
            return copy.deepcopy(out)

    def prorations(self) -> list[dict[str, Any]]:
        """Proration adjustments made by plan changes: subscription, amount (minor units), behavior."""
        with self._lock:
            return copy.deepcopy(self._prorations)

    def end_period(self, subscription_id: str, *, notify: bool = True) -> dict[str, Any]:
        """The current period ends now.

        Set to cancel at period end → ``status=canceled`` and
        ``customer.subscription.deleted``; otherwise it renews: the item's
        period moves one month on, a paid ``subscription_cycle`` invoice,
        ``invoice.paid`` and ``customer.subscription.updated``. With
        ``notify`` the events go to the webhook in the background."""
        with self._lock:
            sub = self._sub(subscription_id)
            if sub["status"] not in ("active", "trialing", "past_due"):
                raise ValueError(f"subscription is {sub['status']}")
            item = sub["items"]["data"][0]
            if sub["cancel_at_period_end"]:
                events = [self._cancel(sub, at=item["current_period_end"])]
            else:
                previous = {"items": copy.deepcopy(sub["items"]), "latest_invoice": sub["latest_invoice"]}
                start = item["current_period_end"]
                item.update(current_period_start=start, current_period_end=add_month(start))
                invoice = self._invoice(sub, item["price"]["unit_amount"], "subscription_cycle")
                sub["latest_invoice"] = invoice["id"]
                events = [
                    self._object_event("invoice.paid", invoice),
                    self._object_event("customer.subscription.updated", sub, previous),
                ]
            snapshot = copy.deepcopy(sub)
        if notify:
            self._deliver_all_in_background(events)  # type: ignore[attr-defined]
        return snapshot

    def events_about(self, subscription_id: str, types: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Events (oldest first) whose object is the subscription, its invoice or its Checkout Session."""
        wanted = set(types) if types is not None else None
        with self._lock:
            out = []
            for e in self._events:
                obj = e["data"]["object"]
                about = {obj.get("id"), obj.get("subscription"), _invoice_subscription(obj)}
                if subscription_id in about and (wanted is None or e["type"] in wanted):
                    out.append(copy.deepcopy(e))
            return out

    def redeliver(self, event_ids: Iterable[str], *, times: int = 1, shuffle_seed: int | None = None) -> list[int]:
        """POST stored events again, synchronously, each freshly signed: every id
        ``times`` times, in the given order or shuffled with ``shuffle_seed``.
        Returns the status codes (0 = no answer)."""
        with self._lock:
            by_id = {e["id"]: e for e in self._events}
            jobs = [by_id[i] for i in event_ids for _ in range(times)]
        if shuffle_seed is not None:
            random.Random(shuffle_seed).shuffle(jobs)
        return [self.deliver_payload(self._encode(e)) for e in jobs]  # type: ignore[attr-defined]

    # -- checkout completion (called by FakeStripe with its lock held) --------------

    def _complete_subscription(self, rec: Any, email: str | None) -> None:
        """Pay a ``mode=subscription`` session: customer, subscription, paid invoice, events."""
        obj = rec.obj
        now = int(time.time())
        customer = self._customers.get(obj.get("customer") or "")
        if customer is None:
            customer = {
                "id": rand_id("cus_", 14),
                "object": "customer",
                "created": now,
                "email": email or obj["customer_email"],
                "livemode": False,
                "metadata": {},
                "name": None,
            }
            self._customers[customer["id"]] = customer
        line = rec.line_items[0]
        price = copy.deepcopy(line["price"])
        self._products.setdefault(
            price["product"], {"id": price["product"], "object": "product", "name": line["description"]}
        )
        sid = rand_id("sub_1", 24)
        sub = {
            "id": sid,
            "object": "subscription",
            "billing_cycle_anchor": now,
            "cancel_at": None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "collection_method": "charge_automatically",
            "created": now,
            "currency": price["currency"],
            "customer": customer["id"],
            "description": None,
            "ended_at": None,
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": rand_id("si_", 14),
                        "object": "subscription_item",
                        "created": now,
                        "current_period_end": add_month(now),
                        "current_period_start": now,
                        "metadata": {},
                        "price": price,
                        "quantity": line["quantity"],
                        "subscription": sid,
                    }
                ],
                "has_more": False,
                "total_count": 1,
                "url": f"/v1/subscription_items?subscription={sid}",
            },
            "latest_invoice": None,
            "livemode": False,
            "metadata": dict((rec.subscription_data or {}).get("metadata") or {}),
            "start_date": now,
            "status": "active",
            "trial_end": None,
            "trial_start": None,
        }
        self._subscriptions[sid] = sub
        invoice = self._invoice(sub, obj["amount_total"] or 0, "subscription_create")
        sub["latest_invoice"] = invoice["id"]
        obj.update(customer=customer["id"], subscription=sid, invoice=invoice["id"])
        if obj["customer_details"] is None:
            obj["customer_details"] = {"email": customer["email"], "name": None, "phone": None}
        self._pending_events[obj["id"]] = [
            self._object_event("customer.subscription.created", sub),
            self._object_event("invoice.paid", invoice),
        ]

    def _pay_events(self, rec: Any) -> list[dict[str, Any]]:
        """The events a completed session caused besides its own (subscription mode)."""
        with self._lock:
            return self._pending_events.pop(rec.obj["id"], [])

    # -- state ----------------------------------------------------------------------

    def _sub(self, sid: str) -> dict[str, Any]:
        if sid not in self._subscriptions:
            raise KeyError(sid)
        return self._subscriptions[sid]

    def _cancel(self, sub: dict[str, Any], *, at: int) -> dict[str, Any]:
        """End ``sub`` now; returns its ``customer.subscription.deleted`` event."""
        sub.update(status="canceled", ended_at=at, canceled_at=sub["canceled_at"] or at, cancel_at=None)
        sub["cancel_at_period_end"] = False
        return self._object_event("customer.subscription.deleted", sub)

    def _invoice(self, sub: dict[str, Any], amount: int, reason: str) -> dict[str, Any]:
        """A paid invoice of ``sub`` for ``amount`` (minor units)."""
        now = int(time.time())
        item = sub["items"]["data"][0]
        iid = rand_id("in_1", 24)
        invoice = {
            "id": iid,
            "object": "invoice",
            "amount_due": amount,
            "amount_paid": amount,
            "amount_remaining": 0,
            "billing_reason": reason,
            "collection_method": "charge_automatically",
            "created": now,
            "currency": sub["currency"],
            "customer": sub["customer"],
            "lines": {
                "object": "list",
                "data": [
                    {
                        "id": rand_id("il_1", 24),
                        "object": "line_item",
                        "amount": amount,
                        "currency": sub["currency"],
                        "period": {"start": item["current_period_start"], "end": item["current_period_end"]},
                    }
                ],
                "has_more": False,
                "url": f"/v1/invoices/{iid}/lines",
            },
            "livemode": False,
            "metadata": {},
            "parent": {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {"metadata": dict(sub["metadata"]), "subscription": sub["id"]},
            },
            "period_end": item["current_period_end"],
            "period_start": item["current_period_start"],
            "status": "paid",
            "status_transitions": {"finalized_at": now, "paid_at": now},
            "total": amount,
        }
        self._invoices[iid] = invoice
        return invoice

    def _object_event(
        self, event_type: str, obj: dict[str, Any], previous: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Record an Event envelope (https://docs.stripe.com/api/events/object) about a snapshot of ``obj``."""
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous is not None:
            data["previous_attributes"] = copy.deepcopy(previous)
        event = {
            "id": rand_id("evt_1"),
            "object": "event",
            "api_version": DEFAULT_API_VERSION,
            "created": int(time.time()),
            "data": data,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        with self._lock:
            self._events.append(event)
        return event


def _invoice_subscription(obj: dict[str, Any]) -> str | None:
    """The subscription of an invoice (``parent.subscription_details.subscription``), if any."""
    parent = obj.get("parent") if obj.get("object") == "invoice" else None
    details = (parent or {}).get("subscription_details") or {}
    return details.get("subscription")
