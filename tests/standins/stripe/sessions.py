"""Checkout Sessions after creation: state, retrieve, expire, completion and the charge.

Session objects carry the fields of the real Checkout Session object
(https://docs.stripe.com/api/checkout/sessions/object); ``url`` is only set
while the session is ``open`` and ``payment_intent`` only once it completed.
"""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

from .errors import ApiError
from .lists import record_refund
from .objects import rand_id
from .refunds import expand_session


class SessionRecord:
    """One checkout session: the public object plus what only the server keeps."""

    def __init__(self, obj: dict[str, Any], line_items: list[dict[str, Any]], api_version: str) -> None:
        self.obj = obj
        self.line_items = line_items
        self.api_version = api_version
        self.charge: dict[str, Any] | None = None
        self.subscription_data: dict[str, Any] = {}  # mode=subscription: subscription_data[...]


class SessionsMixin:
    """Checkout Sessions of :class:`~.server.FakeStripe`: test controls, state, ``GET``/``expire`` API."""

    # Provided by FakeStripe.
    _lock: threading.RLock
    _sessions: dict[str, SessionRecord]

    def session(self, session_id: str) -> dict[str, Any]:
        """A copy of the session object as the API would return it."""
        with self._lock:
            return copy.deepcopy(self._get(session_id).obj)

    def mark_paid(
        self, session_id: str, payment_status: str = "paid", async_: bool = False, *, notify: bool = False
    ) -> dict[str, Any]:
        """Complete a session as if the customer paid.

        ``payment_status``: ``paid``, ``no_payment_required`` or ``unpaid`` (a delayed
        payment method still processing). ``async_=True`` models the later success
        of a delayed payment (the event is ``checkout.session.async_payment_succeeded``).
        ``notify=True`` also delivers that event to the webhook URL in the background.
        """
        if payment_status not in ("paid", "no_payment_required", "unpaid"):
            raise ValueError(f"bad payment_status {payment_status!r}")
        with self._lock:
            rec = self._get(session_id)
            self._complete(rec, payment_status)
            snapshot = copy.deepcopy(rec.obj)
        if notify:
            kind = "async_payment_succeeded" if async_ else "completed"
            self._deliver_all_in_background(
                [*self._pay_events(rec), self._event(f"checkout.session.{kind}", session_id)]
            )
        return snapshot

    def expire(self, session_id: str) -> dict[str, Any]:
        """Expire an open session now (as the expire endpoint or the 24 h timeout would)."""
        with self._lock:
            rec = self._get(session_id)
            if rec.obj["status"] != "open":
                raise ValueError(f"session is {rec.obj['status']}, not open")
            self._expire(rec)
            return copy.deepcopy(rec.obj)

    # -- internals: state ----------------------------------------------------------

    def _get(self, session_id: str) -> SessionRecord:
        rec = self._sessions.get(session_id)
        if rec is None:
            raise KeyError(session_id)
        if rec.obj["status"] == "open" and rec.obj["expires_at"] <= time.time():
            self._expire(rec)
        return rec

    def _expire(self, rec: SessionRecord) -> None:
        rec.obj.update(status="expired", url=None)

    def _complete(self, rec: SessionRecord, payment_status: str, email: str | None = None) -> None:
        obj = rec.obj
        if obj["status"] == "expired":
            raise ValueError("session is expired")
        obj.update(status="complete", payment_status=payment_status, url=None)
        if obj["mode"] == "subscription":
            self._complete_subscription(rec, email)
            return
        if obj["payment_intent"] is None and obj["amount_total"]:
            obj["payment_intent"] = rand_id("pi_3")
        if obj["customer_details"] is None:
            obj["customer_details"] = {"email": email or obj["customer_email"], "name": None, "phone": None}
        if payment_status == "paid" and rec.charge is None and obj["payment_intent"]:
            rec.charge = {
                "id": rand_id("ch_3"),
                "object": "charge",
                "amount": obj["amount_total"],
                "amount_captured": obj["amount_total"],
                "amount_refunded": 0,
                "captured": True,
                "created": int(time.time()),
                "currency": obj["currency"],
                "livemode": False,
                "metadata": {},
                "paid": True,
                "payment_intent": obj["payment_intent"],
                "refunded": False,
                "status": "succeeded",
            }

    def _refund(self, rec: SessionRecord, amount: int | None) -> None:
        ch = rec.charge
        if ch is None:
            raise ValueError("session has no successful charge to refund")
        left = ch["amount"] - ch["amount_refunded"]
        ch["amount_refunded"] += left if amount is None else min(amount, left)
        ch["refunded"] = ch["amount_refunded"] >= ch["amount"]
        # listed by GET /v1/refunds
        record_refund(self, rec, left if amount is None else min(amount, left))

    # -- internals: API ----------------------------------------------------------------

    def _not_found(self, session_id: str) -> ApiError:
        return ApiError(
            404, f"No such checkout.session: '{session_id}'", code="resource_missing", param="session", saved=True
        )

    def _retrieve(self, session_id: str, data: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            try:
                rec = self._get(session_id)
            except KeyError:
                raise self._not_found(session_id) from None
            obj = copy.deepcopy(rec.obj)
            if "line_items" in (data.get("expand") or []):
                obj["line_items"] = {
                    "object": "list",
                    "data": copy.deepcopy(rec.line_items),
                    "has_more": False,
                    "url": f"/v1/checkout/sessions/{session_id}/line_items",
                }
            return expand_session(rec, obj, data.get("expand"))

    def _expire_api(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            try:
                rec = self._get(session_id)
            except KeyError:
                raise self._not_found(session_id) from None
            if rec.obj["status"] != "open":
                raise ApiError(
                    400,
                    f'Only Checkout Sessions with a status in ["open"] can be expired; '
                    f'this Checkout Session has a status of "{rec.obj["status"]}".',
                    saved=True,
                )
            self._expire(rec)
            return copy.deepcopy(rec.obj)
