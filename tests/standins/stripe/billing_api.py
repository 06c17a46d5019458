"""The Billing routes of the Stripe stand-in: subscriptions, customers, invoices.

``GET``/``POST``/``DELETE /v1/subscriptions/<id>``, ``GET /v1/subscriptions``,
``GET /v1/customers/<id>``, ``GET /v1/invoices/<id>``; the update parameters,
proration and cancellation rules are described in ``billing.py``.
"""

from __future__ import annotations

import copy
import re
import time
from typing import Any

from .errors import ApiError, missing_param
from .forms import as_int, parse_recurring
from .objects import rand_id

_SUB_PATH = re.compile(r"^/v1/subscriptions/([^/]+)$")
_CUSTOMER_PATH = re.compile(r"^/v1/customers/([^/]+)$")
_INVOICE_PATH = re.compile(r"^/v1/invoices/([^/]+)$")
_UPDATE_PARAMS = frozenset(
    {"items", "proration_behavior", "metadata", "cancel_at_period_end", "expand", "description", "proration_date"}
)
_PRORATION = ("create_prorations", "none", "always_invoice")


def _bool(value: Any, param: str) -> bool:
    if value in ("true", "false"):
        return value == "true"
    raise ApiError(400, f"Invalid boolean: {value}", param=param)


class BillingApiMixin:
    """The Billing API of :class:`~.server.FakeStripe` (state and events come from ``BillingMixin``)."""

    # Provided by FakeStripe and BillingMixin.
    _customers: dict[str, dict[str, Any]]
    _subscriptions: dict[str, dict[str, Any]]
    _invoices: dict[str, dict[str, Any]]
    _products: dict[str, dict[str, Any]]
    _prorations: list[dict[str, Any]]

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
            raise ApiError(404, f"No such {kind}: '{oid}'", code="resource_missing", param="id", saved=True)
        return table[oid]

    def _sub_missing(self, sid: str) -> Exception:
        return ApiError(404, f"No such subscription: '{sid}'", code="resource_missing", param="id", saved=True)

    def _sub_or_404(self, sid: str) -> dict[str, Any]:
        if sid not in self._subscriptions:
            raise self._sub_missing(sid)
        return self._subscriptions[sid]

    def _list_subscriptions(self, data: dict[str, Any]) -> dict[str, Any]:
        status = data.get("status")
        limit = as_int(data.get("limit", "10"), "limit", minimum=1)
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
        for key in data:
            if key not in _UPDATE_PARAMS:
                raise ApiError(400, f"Received unknown parameter: {key}", code="parameter_unknown", param=key)
        if sub["status"] in ("canceled", "incomplete_expired") and set(data) - {"metadata", "expand"}:
            raise ApiError(
                400, "A canceled subscription can only update its cancellation_details and metadata.", saved=True
            )
        behavior = data.get("proration_behavior", "create_prorations")
        if behavior not in _PRORATION:
            raise ApiError(
                400, "Invalid proration_behavior: must be one of " + ", ".join(_PRORATION), param="proration_behavior"
            )
        previous: dict[str, Any] = {}
        new_price = self._new_price(sub, data.get("items")) if data.get("items") is not None else None
        metadata = data.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise ApiError(400, "Invalid object", param="metadata")
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
        if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
            raise ApiError(400, "Invalid array", param="items")
        item = items[0]
        current = sub["items"]["data"][0]
        if item.get("id") != current["id"]:
            raise ApiError(
                400, f"No such subscription item: '{item.get('id')}'", code="resource_missing", param="items[0][id]"
            )
        if "price" in item:
            raise ApiError(400, f"No such price: '{item['price']}'", code="resource_missing", param="items[0][price]")
        pd = item.get("price_data")
        if pd is None:
            return None
        p = "items[0][price_data]"
        if not isinstance(pd, dict):
            raise ApiError(400, "Invalid object", param=p)
        if "product_data" in pd:
            raise ApiError(
                400,
                f"Received unknown parameter: {p}[product_data]",
                code="parameter_unknown",
                param=f"{p}[product_data]",
            )
        for field in ("currency", "product", "unit_amount", "recurring"):
            if pd.get(field) is None:
                raise missing_param(f"{p}[{field}]")
        if pd["product"] not in self._products:
            raise ApiError(400, f"No such product: '{pd['product']}'", code="resource_missing", param=f"{p}[product]")
        currency = pd["currency"].lower()
        if currency != sub["currency"]:
            raise ApiError(400, "The price's currency must match the subscription's currency.", param=f"{p}[currency]")
        return {
            "id": rand_id("price_1"),
            "object": "price",
            "currency": currency,
            "product": pd["product"],
            "recurring": parse_recurring(pd["recurring"], f"{p}[recurring]"),
            "type": "recurring",
            "unit_amount": as_int(pd["unit_amount"], f"{p}[unit_amount]", minimum=0),
        }
