"""``POST /v1/checkout/sessions``: parameter checks and the new session object.

Form-encoded, nested keys in bracket notation, exactly as stripe-python sends
them; unknown top-level parameters are ``parameter_unknown``, missing ones
``parameter_missing``; the session expires 24 hours after creation unless
``expires_at`` says otherwise.
"""

from __future__ import annotations

import copy
import re
import threading
import time
from typing import Any

from .errors import ApiError, missing_param
from .forms import as_int, parse_recurring
from .objects import format_amount, rand_id
from .page import PAY_PATH
from .sessions import SessionRecord

SESSION_LIFETIME_S = 24 * 3600  # Stripe's default expires_at: 24 hours after creation

# A representative subset of Stripe's supported currencies (lowercase ISO 4217).
CURRENCIES = frozenset(
    {
        "usd", "aed", "aud", "brl", "cad", "chf", "cny", "czk", "dkk", "eur", "gbp",
        "hkd", "huf", "idr", "ils", "inr", "jpy", "krw", "mxn", "myr", "nok", "nzd",
        "php", "pln", "ron", "sek", "sgd", "thb", "try", "twd", "zar",
    }
)  # fmt: skip
# Minimum charge amounts (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
MINIMUM_AMOUNT = {"usd": 50, "eur": 50, "gbp": 30, "cad": 50, "aud": 50, "chf": 50}

# Top-level parameters of POST /v1/checkout/sessions that the stand-in accepts;
# anything else is Stripe's ``parameter_unknown`` error.
KNOWN_CREATE_PARAMS = frozenset(
    {
        "after_expiration", "allow_promotion_codes", "automatic_tax", "billing_address_collection",
        "cancel_url", "client_reference_id", "consent_collection", "currency", "customer",
        "customer_creation", "customer_email", "expand", "expires_at", "invoice_creation",
        "line_items", "locale", "metadata", "mode", "payment_intent_data", "payment_method_types",
        "phone_number_collection", "submit_type", "subscription_data", "success_url", "ui_mode",
    }
)  # fmt: skip


class CheckoutMixin:
    """Creating Checkout Sessions in :class:`~.server.FakeStripe`."""

    # Provided by FakeStripe.
    _lock: threading.RLock
    _sessions: dict[str, SessionRecord]
    url: str

    def _create(self, data: dict[str, Any], version: str) -> dict[str, Any]:
        for key in data:
            if key not in KNOWN_CREATE_PARAMS:
                raise ApiError(400, f"Received unknown parameter: {key}", code="parameter_unknown", param=key)
        mode = data.get("mode")
        if not mode:
            raise missing_param("mode")
        if mode not in ("payment", "setup", "subscription"):
            raise ApiError(400, "Invalid mode: must be one of payment, setup, or subscription", param="mode")
        if not data.get("success_url"):
            raise missing_param("success_url")
        for url_param in ("success_url", "cancel_url"):
            value = data.get(url_param)
            if value is not None and not re.match(r"^https?://[^/\s]+", value):
                raise ApiError(400, "Not a valid URL", code="url_invalid", param=url_param)
        raw_items = data.get("line_items")
        if mode in ("payment", "subscription") and not raw_items:
            raise missing_param("line_items")
        if raw_items is not None and not isinstance(raw_items, list):
            raise ApiError(400, "Invalid array", param="line_items")
        items, currency = self._line_items(raw_items or [])
        metadata = data.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise ApiError(400, "Invalid object", param="metadata")
        if len(metadata) > 50:
            raise ApiError(400, "You can specify up to 50 keys in metadata.", param="metadata")
        for k, v in metadata.items():
            if len(k) > 40:
                raise ApiError(400, "Metadata keys can have up to 40 characters.", param=f"metadata[{k}]")
            if len(v) > 500:
                raise ApiError(400, "Metadata values can have up to 500 characters.", param=f"metadata[{k}]")
        ref = data.get("client_reference_id")
        if ref is not None and len(ref) > 200:
            raise ApiError(400, "client_reference_id must be at most 200 characters.", param="client_reference_id")
        recurring = [bool(i["price"]["recurring"]) for i in items]
        if mode == "subscription" and not any(recurring):
            raise ApiError(
                400,
                "You must provide at least one recurring price in `subscription` mode when using prices.",
                param="line_items",
            )
        if mode == "payment" and any(recurring):
            raise ApiError(
                400,
                "You specified `payment` mode but passed a recurring price. Either switch to `subscription` "
                "mode or use only one-time prices.",
                param="line_items",
            )
        sub_data = data.get("subscription_data") or {}
        if mode != "subscription" and sub_data:
            raise ApiError(
                400, "You can only specify `subscription_data` in `subscription` mode.", param="subscription_data"
            )
        if not isinstance(sub_data, dict) or not isinstance(sub_data.get("metadata") or {}, dict):
            raise ApiError(400, "Invalid object", param="subscription_data")
        total = sum(i["amount_total"] for i in items)
        floor = MINIMUM_AMOUNT.get(currency or "", 1)
        if mode == "payment" and total < floor:
            minimum = format_amount(floor, currency or "usd")
            raise ApiError(
                400, f"The Checkout Session's total amount due must add up to at least {minimum}", param="line_items"
            )
        now = int(time.time())
        expires_at = now + SESSION_LIFETIME_S
        if data.get("expires_at") is not None:
            expires_at = as_int(data["expires_at"], "expires_at")
            if not now + 1800 <= expires_at <= now + SESSION_LIFETIME_S:
                raise ApiError(
                    400,
                    "The `expires_at` timestamp must be between 30 minutes and 24 hours from now.",
                    param="expires_at",
                )
        sid = rand_id("cs_test_a1", 56)
        obj = {
            "id": sid,
            "object": "checkout.session",
            "after_expiration": None,
            "allow_promotion_codes": None,
            "amount_subtotal": total,
            "amount_total": total,
            "automatic_tax": {"enabled": False, "liability": None, "status": None},
            "billing_address_collection": None,
            "cancel_url": data.get("cancel_url"),
            "client_reference_id": ref,
            "client_secret": None,
            "created": now,
            "currency": currency,
            "customer": data.get("customer"),
            "customer_creation": "if_required",
            "customer_details": None,
            "customer_email": data.get("customer_email"),
            "expires_at": expires_at,
            "invoice": None,
            "livemode": False,
            "locale": data.get("locale"),
            "metadata": dict(metadata),
            "mode": mode,
            "payment_intent": None,
            "payment_link": None,
            "payment_method_types": data.get("payment_method_types") or ["card"],
            "payment_status": "unpaid" if mode != "setup" else "no_payment_required",
            "status": "open",
            "submit_type": data.get("submit_type"),
            "subscription": None,
            "success_url": data["success_url"],
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": "hosted",
            "url": f"{self.url}{PAY_PATH}/{sid}",
        }
        rec = SessionRecord(obj, items, version)
        rec.subscription_data = copy.deepcopy(sub_data)
        with self._lock:
            self._sessions[sid] = rec
        return copy.deepcopy(obj)

    def _line_items(self, raw: list[Any]) -> tuple[list[dict[str, Any]], str | None]:
        items: list[dict[str, Any]] = []
        currency: str | None = None
        for n, item in enumerate(raw):
            p = f"line_items[{n}]"
            if not isinstance(item, dict):
                raise ApiError(400, "Invalid object", param=p)
            if "price" in item:
                raise ApiError(400, f"No such price: '{item['price']}'", code="resource_missing", param=f"{p}[price]")
            pd = item.get("price_data")
            if not isinstance(pd, dict):
                raise missing_param(f"{p}[price_data]")
            cur = pd.get("currency")
            if not cur:
                raise missing_param(f"{p}[price_data][currency]")
            cur = cur.lower()
            if cur not in CURRENCIES:
                raise ApiError(
                    400,
                    f"Invalid currency: {cur}. Stripe currently supports these currencies: "
                    + ", ".join(sorted(CURRENCIES)),
                    param=f"{p}[price_data][currency]",
                )
            if currency is not None and cur != currency:
                raise ApiError(400, "Checkout does not support multiple currencies.", param="line_items")
            currency = cur
            if pd.get("unit_amount") is None:
                raise missing_param(f"{p}[price_data][unit_amount]")
            unit = as_int(pd["unit_amount"], f"{p}[price_data][unit_amount]", minimum=0)
            product = pd.get("product_data")
            if not isinstance(product, dict) and not pd.get("product"):
                raise missing_param(f"{p}[price_data][product_data]")
            name = (product or {}).get("name")
            if isinstance(product, dict) and not name:
                raise missing_param(f"{p}[price_data][product_data][name]")
            if item.get("quantity") is None:
                raise missing_param(f"{p}[quantity]")
            qty = as_int(item["quantity"], f"{p}[quantity]", minimum=1)
            recurring = pd.get("recurring")
            if recurring is not None:
                recurring = parse_recurring(recurring, f"{p}[price_data][recurring]")
            items.append(
                {
                    "id": rand_id("li_1"),
                    "object": "item",
                    "amount_discount": 0,
                    "amount_subtotal": unit * qty,
                    "amount_tax": 0,
                    "amount_total": unit * qty,
                    "currency": cur,
                    "description": name or pd.get("product"),
                    "price": {
                        "id": rand_id("price_1"),
                        "object": "price",
                        "currency": cur,
                        "product": rand_id("prod_", 14),
                        "recurring": recurring,
                        "type": "recurring" if recurring else "one_time",
                        "unit_amount": unit,
                    },
                    "quantity": qty,
                }
            )
        return items, currency
