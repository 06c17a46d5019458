"""Paginated lists and rate limits in the Stripe stand-in (for reconciliation).

Wire formats followed (Stripe API reference, "Pagination" and each list endpoint):

* a list answers ``{"object": "list", "data": [...], "has_more": bool, "url": <path>}``,
  newest first; ``limit`` 1–100 (default 10); ``starting_after=<id>`` continues
  after that object, ``ending_before=<id>`` before it
  (https://docs.stripe.com/api/pagination) — what stripe-python's
  ``auto_paging_iter()`` sends; an unknown cursor id is a 400 ``resource_missing``;
* ``created[gte|gt|lte|lt]=<unix>`` filters every list below
  (https://docs.stripe.com/api/checkout/sessions/list and the others);
* ``GET /v1/checkout/sessions`` (also ``payment_intent``, ``status``,
  ``expand[]=data.payment_intent.latest_charge``), ``GET /v1/refunds``
  (``charge``, ``payment_intent``; refunds are recorded by the stand-in's one
  refund path), and, when the stand-in has Billing, ``GET /v1/invoices``
  (``subscription``, ``status``) and ``GET /v1/subscriptions`` (``status``,
  ``all`` included);
* rate limits: :func:`rate_limit` makes the next GETs answer 429 with a
  ``rate_limit`` error, ``Retry-After`` and ``Stripe-Should-Retry``
  (https://docs.stripe.com/rate-limits). Only GETs: a POST's 429 would
  otherwise be saved by the idempotency layer, which Stripe does not do.

Test controls: :func:`rate_limit`, :func:`set_created` (move an object in time).
"""

from __future__ import annotations

import copy
import json
import time
from typing import TYPE_CHECKING, Any

from .errors import ApiError
from .forms import as_int
from .objects import rand_id
from .refunds import expand_session

if TYPE_CHECKING:
    from .server import FakeStripe
    from .sessions import SessionRecord

SESSIONS = "/v1/checkout/sessions"
REFUNDS = "/v1/refunds"
INVOICES = "/v1/invoices"
SUBSCRIPTIONS = "/v1/subscriptions"


def rate_limit(
    fake: FakeStripe, n: int = 1, *, retry_after: int = 1, should_retry: bool = True, after: int = 0
) -> None:
    """After ``after`` GET API calls pass, the next ``n`` answer 429 (``Retry-After: retry_after``)."""
    with fake._lock:
        queue = fake.__dict__.setdefault("_rate_limits", [])
        queue.extend([None] * after + [(retry_after, should_retry)] * n)


def set_created(fake: FakeStripe, object_id: str, created: int) -> None:
    """Set the ``created`` time of a session, refund, invoice or subscription (windows in tests)."""
    with fake._lock:
        for table in _tables(fake):
            for obj in table:
                if obj.get("id") == object_id:
                    obj["created"] = int(created)
                    return
    raise KeyError(object_id)


def record_refund(fake: FakeStripe, rec: SessionRecord, amount: int) -> dict[str, Any]:
    """Keep a Refund object for a refund of the session's charge (called under the stand-in's lock)."""
    ch = rec.charge or {}
    obj = {
        "id": rand_id("re_3"),
        "object": "refund",
        "amount": amount,
        "charge": ch.get("id"),
        "created": int(time.time()),
        "currency": ch.get("currency"),
        "metadata": {},
        "payment_intent": ch.get("payment_intent"),
        "reason": None,
        "status": "succeeded",
    }
    fake.__dict__.setdefault("_refund_objects", []).append(obj)
    return obj


def route(fake: FakeStripe, method: str, path: str, data: dict[str, Any]) -> tuple[int, Any, dict[str, str]] | None:
    """``(status, body, headers)`` for a list call or an injected 429; None for anything else."""
    if method != "GET":
        return None
    with fake._lock:
        queue = fake.__dict__.get("_rate_limits") or []
        limit = queue.pop(0) if queue else None
        if limit is not None:
            retry_after, should_retry = limit
            body = {
                "error": {
                    "code": "rate_limit",
                    "message": "Too many requests hit the API too quickly.",
                    "type": "invalid_request_error",
                }
            }
            headers = {"Retry-After": str(retry_after), "Stripe-Should-Retry": json.dumps(should_retry)}
            return 429, body, headers
        if path == SESSIONS:
            return 200, _sessions(fake, data), {}
        if path == REFUNDS:
            items = [
                r
                for r in fake.__dict__.get("_refund_objects", [])
                if data.get("charge") in (None, r["charge"])
                and data.get("payment_intent") in (None, r["payment_intent"])
            ]
            return 200, _page(items, data, REFUNDS), {}
        if path == INVOICES and hasattr(fake, "_invoices"):
            items = [
                i
                for i in fake._invoices.values()
                if data.get("status") in (None, i.get("status")) and data.get("subscription") in (None, _invoice_sub(i))
            ]
            return 200, _page(items, data, INVOICES), {}
        if path == SUBSCRIPTIONS and hasattr(fake, "_subscriptions"):
            status = data.get("status")
            items = [
                s
                for s in fake._subscriptions.values()
                if data.get("customer") in (None, s["customer"])
                and (status == "all" or (s["status"] == status if status else s["status"] != "canceled"))
            ]
            return 200, _page(items, data, SUBSCRIPTIONS), {}
    return None


def _sessions(fake: FakeStripe, data: dict[str, Any]) -> dict[str, Any]:
    recs = {r.obj["id"]: r for r in fake._sessions.values()}
    items = [
        r.obj
        for r in recs.values()
        if data.get("payment_intent") in (None, r.obj.get("payment_intent"))
        and data.get("status") in (None, r.obj.get("status"))
    ]
    page = _page(items, data, SESSIONS)
    page["data"] = [expand_session(recs[o["id"]], o, data.get("expand"), "data.") for o in page["data"]]
    return page


def _page(items: list[dict[str, Any]], data: dict[str, Any], url: str) -> dict[str, Any]:
    """Newest first, ``created`` filters, cursors and ``limit`` (see module docstring)."""
    limit = as_int(data.get("limit", "10"), "limit", minimum=1)
    if limit > 100:
        raise ApiError(400, "This value must be less than or equal to 100.", param="limit")
    created = data.get("created")
    if isinstance(created, dict):
        bounds = {op: as_int(v, f"created[{op}]") for op, v in created.items()}
        items = [i for i in items if _within(i["created"], bounds)]
    elif created is not None:
        items = [i for i in items if i["created"] == as_int(created, "created")]
    # Newest first; among equal timestamps the later-made object first (stable, like Stripe's ids).
    order = sorted(enumerate(items), key=lambda p: (p[1]["created"], p[0]), reverse=True)
    items = [i for _, i in order]
    ids = [i["id"] for i in items]
    after, before = data.get("starting_after"), data.get("ending_before")
    for cursor, param in ((after, "starting_after"), (before, "ending_before")):
        if cursor is not None and cursor not in ids:
            raise ApiError(400, f"No such object: '{cursor}'", code="resource_missing", param=param)
    if after is not None:
        items = items[ids.index(after) + 1 :]
        chosen = items[:limit]
    elif before is not None:
        items = items[: ids.index(before)]
        chosen = items[-limit:]
    else:
        chosen = items[:limit]
    return {"object": "list", "data": copy.deepcopy(chosen), "has_more": len(items) > limit, "url": url}


def _within(ts: int, bounds: dict[str, int]) -> bool:
    checks = {"gte": ts.__ge__, "gt": ts.__gt__, "lte": ts.__le__, "lt": ts.__lt__}
    return all(checks[op](v) for op, v in bounds.items() if op in checks)


def _invoice_sub(invoice: dict[str, Any]) -> str | None:
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    return details.get("subscription") or invoice.get("subscription")


def _tables(fake: FakeStripe) -> list[list[dict[str, Any]]]:
    tables = [[r.obj for r in fake._sessions.values()], fake.__dict__.get("_refund_objects", [])]
    for name in ("_invoices", "_subscriptions"):
        table = getattr(fake, name, None)
        if isinstance(table, dict):
            tables.append(list(table.values()))
    return tables
