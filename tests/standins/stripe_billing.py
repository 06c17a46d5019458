"""Stripe Billing for the stand-in: customers, subscriptions, invoices and their events.

Mixed into :class:`tests.standins.stripe_server.FakeStripe`. Paying a
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
``redeliver`` (stored events, any order, several times, shuffled).
"""

from __future__ import annotations

import calendar
import copy
import random
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

_SUB_PATH = re.compile(r"^/v1/subscriptions/([^/]+)$")
_CUSTOMER_PATH = re.compile(r"^/v1/customers/([^/]+)$")
_INVOICE_PATH = re.compile(r"^/v1/invoices/([^/]+)$")
_UPDATE_PARAMS = frozenset(
    {"items", "proration_behavior", "metadata", "cancel_at_period_end", "expand", "description", "proration_date"}
)
_PRORATION = ("create_prorations", "none", "always_invoice")


def _core() -> Any:
    """The stand-in's core module (imported late: it imports this one)."""
    from . import stripe_server

    return stripe_server


def add_month(ts: int, months: int = 1) -> int:
    """``ts`` plus calendar months, the day clamped to the month's length (Stripe's monthly anchor)."""
    d = datetime.fromtimestamp(ts, UTC)
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    day = min(d.day, calendar.monthrange(year, month)[1])
    return int(d.replace(year=year, month=month, day=day).timestamp())


def _bool(value: Any, param: str) -> bool:
    if value in ("true", "false"):
        return value == "true"
    raise _core()._ApiError(400, f"Invalid boolean: {value}", param=param)


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
                "id": _core()._rand("cus_", 14),
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
        sid = _core()._rand("sub_1", 24)
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
                        "id": _core()._rand("si_", 14),
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

    # -- API ------------------------------------------------------------------------

    def _billing_api(self, method: str, path: str, data: dict[str, Any]) -> dict[str, Any] | None:
        """Answer a Billing route, or None when ``path`` is not one (FakeStripe answers 404)."""
        if path == "/v1/subscriptions" and method == "GET":
            return self._list_subscriptions(data)
        m = _SUB_PATH.match(path)
        if m and method == "GET":
            return copy.deepcopy(self._sub_or_404(m.group(1)))
        if m and method == "POST":
            return self._update(self._sub_or_404(m.group(1)), data)
        if m and method == "DELETE":
            sub = self._sub_or_404(m.group(1))
            if sub["status"] in ("canceled", "incomplete_expired"):
                raise self._sub_missing(sub["id"])  # Stripe: a canceled subscription cannot be canceled again
            self._deliver_all_in_background([self._cancel(sub, at=int(time.time()))])  # type: ignore[attr-defined]
            return copy.deepcopy(sub)
        m = _CUSTOMER_PATH.match(path)
        if m and method == "GET":
            return copy.deepcopy(self._lookup(self._customers, m.group(1), "customer"))
        m = _INVOICE_PATH.match(path)
        if m and method == "GET":
            return copy.deepcopy(self._lookup(self._invoices, m.group(1), "invoice"))
        return None

    def _lookup(self, table: dict[str, dict[str, Any]], oid: str, kind: str) -> dict[str, Any]:
        if oid not in table:
            raise _core()._ApiError(404, f"No such {kind}: '{oid}'", code="resource_missing", param="id", saved=True)
        return table[oid]

    def _sub_missing(self, sid: str) -> Exception:
        return _core()._ApiError(404, f"No such subscription: '{sid}'", code="resource_missing", param="id", saved=True)

    def _sub(self, sid: str) -> dict[str, Any]:
        if sid not in self._subscriptions:
            raise KeyError(sid)
        return self._subscriptions[sid]

    def _sub_or_404(self, sid: str) -> dict[str, Any]:
        if sid not in self._subscriptions:
            raise self._sub_missing(sid)
        return self._subscriptions[sid]

    def _list_subscriptions(self, data: dict[str, Any]) -> dict[str, Any]:
        status = data.get("status")
        limit = _core()._as_int(data.get("limit", "10"), "limit", minimum=1)
        subs = [
            s
            for s in reversed(self._subscriptions.values())  # newest first
            if data.get("customer") in (None, s["customer"])
            and (status == "all" or (s["status"] == status if status else s["status"] != "canceled"))
        ]
        return {
            "object": "list",
            "data": copy.deepcopy(subs[: min(limit, 100)]),
            "has_more": len(subs) > limit,
            "url": "/v1/subscriptions",
        }

    def _update(self, sub: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        core = _core()
        for key in data:
            if key not in _UPDATE_PARAMS:
                raise core._ApiError(400, f"Received unknown parameter: {key}", code="parameter_unknown", param=key)
        if sub["status"] in ("canceled", "incomplete_expired") and set(data) - {"metadata", "expand"}:
            raise core._ApiError(
                400, "A canceled subscription can only update its cancellation_details and metadata.", saved=True
            )
        behavior = data.get("proration_behavior", "create_prorations")
        if behavior not in _PRORATION:
            raise core._ApiError(
                400, "Invalid proration_behavior: must be one of " + ", ".join(_PRORATION), param="proration_behavior"
            )
        previous: dict[str, Any] = {}
        new_price = self._new_price(sub, data.get("items")) if data.get("items") is not None else None
        metadata = data.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise core._ApiError(400, "Invalid object", param="metadata")
        cancel = _bool(data["cancel_at_period_end"], "cancel_at_period_end") if "cancel_at_period_end" in data else None
        item = sub["items"]["data"][0]
        events: list[dict[str, Any]] = []
        if new_price is not None and new_price != item["price"]:
            previous["items"] = copy.deepcopy(sub["items"])
            now = int(time.time())
            start, end = item["current_period_start"], item["current_period_end"]
            left = max(0.0, min(1.0, (end - now) / max(1, end - start)))
            amount = round((new_price["unit_amount"] - item["price"]["unit_amount"]) * item["quantity"] * left)
            item["price"] = new_price
            if behavior != "none":
                self._prorations.append({"subscription": sub["id"], "amount": amount, "behavior": behavior})
            if behavior == "always_invoice" and amount > 0:
                invoice = self._invoice(sub, amount, "subscription_update")
                previous["latest_invoice"] = sub["latest_invoice"]
                sub["latest_invoice"] = invoice["id"]
                events.append(self._object_event("invoice.paid", invoice))
        if metadata is not None:
            merged = {**sub["metadata"], **metadata}
            merged = {k: v for k, v in merged.items() if v != ""}
            if merged != sub["metadata"]:
                previous["metadata"] = dict(sub["metadata"])
                sub["metadata"] = merged
        if cancel is not None and cancel != sub["cancel_at_period_end"]:
            previous.update(
                cancel_at_period_end=sub["cancel_at_period_end"],
                cancel_at=sub["cancel_at"],
                canceled_at=sub["canceled_at"],
                cancellation_details=copy.deepcopy(sub["cancellation_details"]),
            )
            sub.update(
                cancel_at_period_end=cancel,
                cancel_at=item["current_period_end"] if cancel else None,
                canceled_at=int(time.time()) if cancel else None,
                cancellation_details={
                    "comment": None,
                    "feedback": None,
                    "reason": "cancellation_requested" if cancel else None,
                },
            )
        if previous:
            events.append(self._object_event("customer.subscription.updated", sub, previous))
        self._deliver_all_in_background(events)  # type: ignore[attr-defined]
        return copy.deepcopy(sub)

    def _new_price(self, sub: dict[str, Any], items: Any) -> dict[str, Any] | None:
        """The price ``items[0]`` asks for (only ``price_data`` on the existing item is supported)."""
        core = _core()
        if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
            raise core._ApiError(400, "Invalid array", param="items")
        item = items[0]
        current = sub["items"]["data"][0]
        if item.get("id") != current["id"]:
            raise core._ApiError(
                400, f"No such subscription item: '{item.get('id')}'", code="resource_missing", param="items[0][id]"
            )
        if "price" in item:
            raise core._ApiError(
                400, f"No such price: '{item['price']}'", code="resource_missing", param="items[0][price]"
            )
        pd = item.get("price_data")
        if pd is None:
            return None
        p = "items[0][price_data]"
        if not isinstance(pd, dict):
            raise core._ApiError(400, "Invalid object", param=p)
        if "product_data" in pd:
            raise core._ApiError(
                400,
                f"Received unknown parameter: {p}[product_data]",
                code="parameter_unknown",
                param=f"{p}[product_data]",
            )
        for field in ("currency", "product", "unit_amount", "recurring"):
            if pd.get(field) is None:
                raise core._missing(f"{p}[{field}]")
        if pd["product"] not in self._products:
            raise core._ApiError(
                400, f"No such product: '{pd['product']}'", code="resource_missing", param=f"{p}[product]"
            )
        currency = pd["currency"].lower()
        if currency != sub["currency"]:
            raise core._ApiError(
                400, "The price's currency must match the subscription's currency.", param=f"{p}[currency]"
            )
        return {
            "id": core._rand("price_1"),
            "object": "price",
            "currency": currency,
            "product": pd["product"],
            "recurring": core._recurring(pd["recurring"], f"{p}[recurring]"),
            "type": "recurring",
            "unit_amount": core._as_int(pd["unit_amount"], f"{p}[unit_amount]", minimum=0),
        }

    # -- state ----------------------------------------------------------------------

    def _cancel(self, sub: dict[str, Any], *, at: int) -> dict[str, Any]:
        """End ``sub`` now; returns its ``customer.subscription.deleted`` event."""
        sub.update(status="canceled", ended_at=at, canceled_at=sub["canceled_at"] or at, cancel_at=None)
        sub["cancel_at_period_end"] = False
        return self._object_event("customer.subscription.deleted", sub)

    def _invoice(self, sub: dict[str, Any], amount: int, reason: str) -> dict[str, Any]:
        """A paid invoice of ``sub`` for ``amount`` (minor units)."""
        now = int(time.time())
        item = sub["items"]["data"][0]
        iid = _core()._rand("in_1", 24)
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
                        "id": _core()._rand("il_1", 24),
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
        core = _core()
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous is not None:
            data["previous_attributes"] = copy.deepcopy(previous)
        event = {
            "id": core._rand("evt_1"),
            "object": "event",
            "api_version": core.DEFAULT_API_VERSION,
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
