"""Refunds in the Stripe stand-in: ``POST /v1/refunds``, sessions by payment intent, expansions.

Wire formats followed (Stripe API reference):

* ``POST /v1/refunds`` with ``charge`` or ``payment_intent`` and an optional
  ``amount`` (default: all that is left) answers a Refund object
  (https://docs.stripe.com/api/refunds/create, /api/refunds/object); the
  charge's ``amount_refunded`` grows, ``refunded`` turns true once it reaches
  ``amount``, and a ``charge.refunded`` event ("Occurs whenever a charge is
  refunded, including partial refunds", https://docs.stripe.com/api/events/types)
  carrying the Charge (``amount``, ``amount_refunded``, ``refunded``,
  ``payment_intent``) goes to the webhook URL. More than what is left is a 400
  naming ``amount``; a fully refunded charge is 400 ``charge_already_refunded``.
* ``GET /v1/checkout/sessions?payment_intent=pi_…`` answers a list object
  ``{"object": "list", "data": [...], "has_more", "url"}`` ("Only return the
  Checkout Session for the PaymentIntent specified",
  https://docs.stripe.com/api/checkout/sessions/list; ``limit`` 1–100).
* ``expand[]=payment_intent`` or ``payment_intent.latest_charge`` on a session
  (``data.…`` on a list) replaces the id by the PaymentIntent object, whose
  ``latest_charge`` is the Charge when expanded too
  (https://docs.stripe.com/api/expanding_objects; a PaymentIntent "creates at
  most one successful charge", https://docs.stripe.com/api/payment_intents).
"""

from __future__ import annotations

import copy
import threading
import time
from typing import TYPE_CHECKING, Any

from .errors import ApiError, missing_param
from .forms import as_int
from .objects import rand_id

if TYPE_CHECKING:
    from .server import FakeStripe
    from .sessions import SessionRecord

SESSIONS_PATH = "/v1/checkout/sessions"
REFUNDS_PATH = "/v1/refunds"


class RefundsMixin:
    """The refund test controls of :class:`~.server.FakeStripe`."""

    # Provided by FakeStripe.
    _lock: threading.RLock

    def charge_refunded(self, session_id: str, amount: int | None = None) -> bytes:
        """Refund the session's charge (fully, or ``amount``) and return the
        ``charge.refunded`` event; deliver it with ``deliver_payload`` if wanted."""
        with self._lock:
            self._refund(self._get(session_id), amount)
        return self._encode(self._event("charge.refunded", session_id, refund=False))

    def refund(self, session_id: str, amount: int | None = None, *, notify: bool = True) -> dict[str, Any]:
        """Refund the session's charge as ``POST /v1/refunds`` does (this module's ``refund`` function)."""
        with self._lock:
            return refund(self, self._get(session_id), amount, notify=notify)


def route(fake: FakeStripe, method: str, path: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """The answer of a refunds-related API call, or None when ``path`` is not one."""
    if method == "GET" and path == SESSIONS_PATH:
        return list_sessions(fake, data)
    if method == "POST" and path == REFUNDS_PATH:
        return create_refund(fake, data)
    return None


def expand_session(rec: SessionRecord, obj: dict[str, Any], expand: Any, prefix: str = "") -> dict[str, Any]:
    """``obj`` (a copy of the session) with ``payment_intent`` expanded as asked."""
    wanted = {e[len(prefix) :] for e in (expand or []) if isinstance(e, str) and e.startswith(prefix)}
    if obj.get("payment_intent") and wanted & {"payment_intent", "payment_intent.latest_charge"}:
        obj["payment_intent"] = _payment_intent(rec, "payment_intent.latest_charge" in wanted)
    return obj


def list_sessions(fake: FakeStripe, data: dict[str, Any]) -> dict[str, Any]:
    """``GET /v1/checkout/sessions`` filtered by ``payment_intent`` (newest first)."""
    limit = as_int(data.get("limit", "10"), "limit", minimum=1)
    if limit > 100:
        raise ApiError(400, "This value must be less than or equal to 100.", param="limit")
    pi = data.get("payment_intent")
    with fake._lock:
        recs = [r for r in fake._sessions.values() if pi is None or r.obj.get("payment_intent") == pi]
        recs.sort(key=lambda r: r.obj["created"], reverse=True)
        out = [expand_session(r, copy.deepcopy(r.obj), data.get("expand"), "data.") for r in recs[:limit]]
    return {"object": "list", "data": out, "has_more": len(recs) > limit, "url": SESSIONS_PATH}


def create_refund(fake: FakeStripe, data: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1/refunds``: refund a charge (by id or payment intent) and notify the webhook."""
    charge_id, pi = data.get("charge"), data.get("payment_intent")
    if not charge_id and not pi:
        raise missing_param("charge")
    with fake._lock:
        rec = next(
            (
                r
                for r in fake._sessions.values()
                if r.charge and (r.charge["id"] == charge_id or r.obj["payment_intent"] == pi)
            ),
            None,
        )
        if rec is None or rec.charge is None:
            what, value = ("charge", charge_id) if charge_id else ("payment_intent", pi)
            raise ApiError(400, f"No such {what}: '{value}'", code="resource_missing", param=what)
        return refund(fake, rec, None if data.get("amount") is None else as_int(data["amount"], "amount", minimum=1))


def refund(fake: FakeStripe, rec: SessionRecord, amount: int | None, *, notify: bool = True) -> dict[str, Any]:
    """Refund ``amount`` (None: the rest) of the session's charge; deliver ``charge.refunded`` if ``notify``."""
    with fake._lock:
        ch = rec.charge
        if ch is None:
            raise ValueError("session has no successful charge to refund")
        left = ch["amount"] - ch["amount_refunded"]
        if left <= 0:
            raise ApiError(
                400, f"Charge {ch['id']} has already been refunded.", code="charge_already_refunded", param="charge"
            )
        if amount is not None and amount > left:
            raise ApiError(
                400, f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})", param="amount"
            )
        fake._refund(rec, amount)
        obj = {
            "id": rand_id("re_3"),
            "object": "refund",
            "amount": left if amount is None else amount,
            "charge": ch["id"],
            "created": int(time.time()),
            "currency": ch["currency"],
            "metadata": {},
            "payment_intent": ch["payment_intent"],
            "reason": None,
            "status": "succeeded",
        }
        event = fake._event("charge.refunded", rec.obj["id"], refund=False)
    if notify:
        fake._deliver_in_background(event)
    return obj


def _payment_intent(rec: SessionRecord, with_charge: bool) -> dict[str, Any]:
    ch = rec.charge
    obj = rec.obj
    return {
        "id": obj["payment_intent"],
        "object": "payment_intent",
        "amount": obj["amount_total"],
        "amount_received": obj["amount_total"] if ch else 0,
        "currency": obj["currency"],
        "latest_charge": (copy.deepcopy(ch) if with_charge else ch["id"]) if ch else None,
        "livemode": False,
        "metadata": {},
        "status": "succeeded" if ch else "processing",
    }
