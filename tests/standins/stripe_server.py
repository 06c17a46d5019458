"""A local stand-in for the slice of Stripe the credits app uses.

It speaks Stripe's wire formats, so the production gateway (the official
``stripe`` library pointed here through ``base_addresses={"api": url}``) runs
unchanged against it:

* ``POST /v1/checkout/sessions`` – form-encoded, nested keys in bracket
  notation (``line_items[0][price_data][product_data][name]=...``), exactly as
  stripe-python's encoder sends them (``stripe/_encode.py``);
* ``GET /v1/checkout/sessions/<id>`` and ``POST /v1/checkout/sessions/<id>/expire``;
* refunds (``POST /v1/refunds``, sessions by payment intent, ``payment_intent``
  expansions): ``stripe_refunds.py``;
* errors as ``{"error": {"type", "code", "message", "param"}}`` with Stripe's
  status codes (https://docs.stripe.com/api/errors: 400 bad params, 401 bad
  key, 404 missing resource; ``type`` one of ``api_error``, ``card_error``,
  ``idempotency_error``, ``invalid_request_error``);
* ``Idempotency-Key`` on POST (https://docs.stripe.com/api/idempotent_requests):
  the first response of an endpoint that started executing is saved and
  replayed, with ``Idempotent-Replayed: true``, for the same key and the same
  parameters; the same key with other parameters or another endpoint is a 400
  of type ``idempotency_error``; requests that fail parameter validation (or
  authentication) save nothing and may be retried with the same key;
* a hosted checkout page at ``/pay/<id>`` whose "Pay" button completes the
  session, delivers a signed ``checkout.session.completed`` event to the
  configured webhook URL and 303-redirects to ``success_url`` with the literal
  ``{CHECKOUT_SESSION_ID}`` replaced by the session id
  (https://docs.stripe.com/payments/checkout/custom-success-page);
* webhook signatures ``Stripe-Signature: t=<ts>,v1=<hex>`` where ``<hex>`` is
  HMAC-SHA256 of ``"<ts>.<raw body>"`` under the endpoint secret
  (https://docs.stripe.com/webhooks#verify-manually; the same computation as
  ``stripe.WebhookSignature._compute_signature`` in stripe-python 16). Every
  delivery attempt, retries included, is signed with a fresh timestamp, as
  Stripe does.

Session objects carry the fields of the real Checkout Session object
(https://docs.stripe.com/api/checkout/sessions/object); ``url`` is only set
while the session is ``open`` and ``payment_intent`` only once it completed.

Subscription-mode Checkout, subscriptions, customers and invoices (and their
events) live in ``stripe_billing.py`` (:class:`BillingMixin`).

Test controls (all thread-safe): ``mark_paid``, ``expire``, ``sign``,
``event_for``, ``deliver``, ``charge_refunded``, ``fail_next``, ``requests``,
``deliveries``, ``wait_for_deliveries``, ``session``. The server binds
127.0.0.1 on a free port and stops itself after ``lifetime_s`` seconds.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from .loopback import LoopbackServer
from .stripe_billing import BillingMixin

# The API version stripe-python 16.1.0 pins (stripe/_api_version.py); used for
# the ``api_version`` of events when the creating request sent no Stripe-Version.
DEFAULT_API_VERSION = "2026-10-28.endive"
PAY_PATH = "/pay"
SESSION_LIFETIME_S = 24 * 3600  # Stripe's default expires_at: 24 hours after creation

# A representative subset of Stripe's supported currencies (lowercase ISO 4217).
CURRENCIES = frozenset(
    {
        "usd", "aed", "aud", "brl", "cad", "chf", "cny", "czk", "dkk", "eur", "gbp",
        "hkd", "huf", "idr", "ils", "inr", "jpy", "krw", "mxn", "myr", "nok", "nzd",
        "php", "pln", "ron", "sek", "sgd", "thb", "try", "twd", "zar",
    }
)  # fmt: skip
ZERO_DECIMAL = frozenset({"jpy", "krw", "bif", "clp", "djf", "gnf", "kmf", "mga", "pyg", "rwf", "ugx", "vnd"})
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

_SESSION_PATH = re.compile(r"^/v1/checkout/sessions/([^/]+)$")
_EXPIRE_PATH = re.compile(r"^/v1/checkout/sessions/([^/]+)/expire$")
_PAY_PATH = re.compile(rf"^{PAY_PATH}/([^/]+)$")


def _rand(prefix: str, n: int = 24) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(n))


class _ApiError(Exception):
    """An error answer in Stripe's shape; ``saved`` says if idempotency keeps it."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        saved: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.saved = saved
        body: dict[str, Any] = {"message": message, "type": type_}
        if code:
            body["code"] = code
            body["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            body["param"] = param
        self.body = {"error": body}


def _missing(param: str) -> _ApiError:
    return _ApiError(400, f"Missing required param: {param}.", code="parameter_missing", param=param)


def _nest(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Turn bracket-notation form pairs into nested dicts/lists (Stripe's decoding)."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        parts = [head] + (re.findall(r"([^\[\]]*)\]", "[" + rest) if rest else [])
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "":  # ``expand[]=a`` appends
                if not isinstance(node, list):
                    break
                node.append(value if last else {})
                node = node[-1]
                continue
            nxt_is_list = not last and parts[i + 1] == ""
            if isinstance(node, list):
                break
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, [] if nxt_is_list else {})
    return _listify(root)


def _listify(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _listify(v) for k, v in node.items()}
        if out and all(k.isdigit() for k in out):
            return [out[k] for k in sorted(out, key=int)]
        return out
    if isinstance(node, list):
        return [_listify(v) for v in node]
    return node


def _as_int(value: Any, param: str, *, minimum: int | None = None) -> int:
    if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value):
        raise _ApiError(400, f"Invalid integer: {value}", param=param)
    n = int(value)
    if minimum is not None and n < minimum:
        raise _ApiError(400, f"This value must be greater than or equal to {minimum}.", param=param)
    return n


def _recurring(value: Any, param: str) -> dict[str, Any]:
    """``price_data[recurring]``: ``interval`` day/week/month/year, ``interval_count`` ≥ 1."""
    if not isinstance(value, dict):
        raise _ApiError(400, "Invalid object", param=param)
    interval = value.get("interval")
    if not interval:
        raise _missing(f"{param}[interval]")
    if interval not in ("day", "week", "month", "year"):
        raise _ApiError(400, "Invalid interval: must be one of day, week, month, or year", param=f"{param}[interval]")
    count = _as_int(value.get("interval_count", "1"), f"{param}[interval_count]", minimum=1)
    return {"interval": interval, "interval_count": count, "meter": None, "usage_type": "licensed"}


def _format_amount(amount: int, currency: str) -> str:
    if currency in ZERO_DECIMAL:
        return f"{amount:,} {currency.upper()}"
    return f"{amount / 100:,.2f} {currency.upper()}"


class _Record:
    """One checkout session: the public object plus what only the server keeps."""

    def __init__(self, obj: dict[str, Any], line_items: list[dict[str, Any]], api_version: str) -> None:
        self.obj = obj
        self.line_items = line_items
        self.api_version = api_version
        self.charge: dict[str, Any] | None = None
        self.subscription_data: dict[str, Any] = {}  # mode=subscription: subscription_data[...]


class FakeStripe(BillingMixin):
    """A Stripe stand-in on 127.0.0.1; use as a context manager or start()/stop().

    Subscriptions, customers and invoices live in :class:`BillingMixin`
    (``stripe_billing.py``)."""

    def __init__(
        self,
        secret_key: str = "sk_test_standin_4242424242424242",
        webhook_secret: str = "whsec_standin_test_secret",
        lifetime_s: float = 900,
        *,
        webhook_url: str | None = None,
        webhook_retry_delays: tuple[float, ...] = (0.05, 0.2, 0.5),
    ) -> None:
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret
        self.lifetime_s = lifetime_s
        self.webhook_retry_delays = webhook_retry_delays
        self._webhook_url = webhook_url
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._sessions: dict[str, _Record] = {}
        self._idem: dict[str, dict[str, Any]] = {}
        self._log: list[dict[str, Any]] = []
        self._deliveries: list[dict[str, Any]] = []
        self._events: list[dict[str, Any]] = []
        self._faults: list[int | str] = []
        self._server: LoopbackServer | None = None
        self._init_billing()

    # -- lifecycle ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (the API base for StripeClient)."""
        if self._server is None:
            raise RuntimeError("FakeStripe is not started")
        return self._server.url

    def start(self) -> Self:
        """Bind 127.0.0.1:0 and serve in a daemon thread; stops itself after lifetime_s."""
        if self._server is not None:
            return self
        handler = type("_BoundHandler", (_Handler,), {"fake": self})
        self._server = LoopbackServer(handler, name="fake-stripe", lifetime_s=self.lifetime_s)
        return self

    def stop(self) -> None:
        """Stop serving and free the port; safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    @property
    def running(self) -> bool:
        """True while the server accepts connections."""
        return self._server is not None and self._server.running

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls -------------------------------------------------------------

    def set_webhook_url(self, url: str | None) -> None:
        """Where events from the hosted page (and ``deliver``) are POSTed."""
        self._webhook_url = url

    def fail_next(self, n: int = 1, status: int | str = 500) -> None:
        """Make the next ``n`` API calls fail: an HTTP status, or ``"drop"`` to close
        the connection without an answer. Faults sit in front of the API, so they
        save no idempotent result (a retry with the same key executes)."""
        with self._lock:
            self._faults.extend([status] * n)

    def requests(self) -> list[dict[str, Any]]:
        """What clients sent: method, path, params (flat form pairs), data (nested),
        idempotency_key, authorized, status, replayed, fault."""
        with self._lock:
            return copy.deepcopy(self._log)

    def deliveries(self) -> list[dict[str, Any]]:
        """Webhook attempts: event_id, type, attempt, status (0 = no answer), signature."""
        with self._lock:
            return copy.deepcopy(self._deliveries)

    def events(self) -> list[dict[str, Any]]:
        """Every event built so far (newest last)."""
        with self._lock:
            return copy.deepcopy(self._events)

    def wait_for_deliveries(self, n: int, timeout: float = 5.0, *, ok: bool = False) -> list[dict[str, Any]]:
        """Block until ``n`` delivery attempts (``ok``: 2xx ones) were made, or time out."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                got = [d for d in self._deliveries if not ok or 200 <= d["status"] < 300]
                if len(got) >= n:
                    return copy.deepcopy(got)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(got)} of {n} webhook deliveries after {timeout}s")
                self._changed.wait(left)

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

    def sign(self, payload: bytes, ts: int | None = None, secret: str | None = None) -> str:
        """The ``Stripe-Signature`` header value for ``payload``."""
        ts = int(time.time()) if ts is None else int(ts)
        key = (secret if secret is not None else self.webhook_secret).encode()
        mac = hmac.new(key, f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
        return f"t={ts},v1={mac}"

    def event_for(self, event_type: str, session_id: str) -> bytes:
        """A complete Event envelope (JSON bytes) about the session's current state.

        ``charge.refunded`` carries the session's charge (fully refunded, if not yet)."""
        return self._encode(self._event(event_type, session_id))

    def charge_refunded(self, session_id: str, amount: int | None = None) -> bytes:
        """Refund the session's charge (fully, or ``amount``) and return the
        ``charge.refunded`` event; deliver it with ``deliver_payload`` if wanted."""
        with self._lock:
            self._refund(self._get(session_id), amount)
        return self._encode(self._event("charge.refunded", session_id, refund=False))

    def refund(self, session_id: str, amount: int | None = None, *, notify: bool = True) -> dict[str, Any]:
        """Refund the session's charge as ``POST /v1/refunds`` does (``stripe_refunds.refund``)."""
        from .stripe_refunds import refund

        with self._lock:
            return refund(self, self._get(session_id), amount, notify=notify)

    def deliver(self, event_type: str, session_id: str, times: int = 1) -> list[int]:
        """Build one event and POST it ``times`` times (a duplicate delivery when > 1),
        synchronously and without retries. Returns the status codes (0 = no answer)."""
        payload = self.event_for(event_type, session_id)
        return [self.deliver_payload(payload) for _ in range(times)]

    def deliver_payload(self, payload: bytes, *, signature: str | None = None) -> int:
        """POST raw event bytes to the webhook URL once, signed unless ``signature``."""
        if not self._webhook_url:
            raise RuntimeError("no webhook URL; call set_webhook_url() first")
        return self._post_event(payload, 1, signature)

    # -- internals: state ----------------------------------------------------------

    def _get(self, session_id: str) -> _Record:
        rec = self._sessions.get(session_id)
        if rec is None:
            raise KeyError(session_id)
        if rec.obj["status"] == "open" and rec.obj["expires_at"] <= time.time():
            self._expire(rec)
        return rec

    def _expire(self, rec: _Record) -> None:
        rec.obj.update(status="expired", url=None)

    def _complete(self, rec: _Record, payment_status: str, email: str | None = None) -> None:
        obj = rec.obj
        if obj["status"] == "expired":
            raise ValueError("session is expired")
        obj.update(status="complete", payment_status=payment_status, url=None)
        if obj["mode"] == "subscription":
            self._complete_subscription(rec, email)
            return
        if obj["payment_intent"] is None and obj["amount_total"]:
            obj["payment_intent"] = _rand("pi_3")
        if obj["customer_details"] is None:
            obj["customer_details"] = {"email": email or obj["customer_email"], "name": None, "phone": None}
        if payment_status == "paid" and rec.charge is None and obj["payment_intent"]:
            rec.charge = {
                "id": _rand("ch_3"),
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

    def _refund(self, rec: _Record, amount: int | None) -> None:
        ch = rec.charge
        if ch is None:
            raise ValueError("session has no successful charge to refund")
        left = ch["amount"] - ch["amount_refunded"]
        ch["amount_refunded"] += left if amount is None else min(amount, left)
        ch["refunded"] = ch["amount_refunded"] >= ch["amount"]
        from .stripe_lists import record_refund  # listed by GET /v1/refunds

        record_refund(self, rec, left if amount is None else min(amount, left))

    def _event(self, event_type: str, session_id: str, *, refund: bool = True) -> dict[str, Any]:
        with self._lock:
            rec = self._get(session_id)
            if event_type.startswith("checkout.session."):
                obj = copy.deepcopy(rec.obj)
            elif event_type.startswith("charge."):
                if rec.charge is None:
                    raise ValueError("session has no charge (mark it paid first)")
                if refund and event_type == "charge.refunded" and not rec.charge["refunded"]:
                    self._refund(rec, None)
                obj = copy.deepcopy(rec.charge)
            else:
                raise ValueError(f"unsupported event type {event_type!r}")
            event = {
                "id": _rand("evt_1"),
                "object": "event",
                "api_version": rec.api_version,
                "created": int(time.time()),
                "data": {"object": obj},
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": event_type,
            }
            self._events.append(event)
            return event

    @staticmethod
    def _encode(event: dict[str, Any]) -> bytes:
        return json.dumps(event, indent=2).encode()  # Stripe sends pretty-printed JSON

    # -- internals: webhook delivery -------------------------------------------------

    def _post_event(self, payload: bytes, attempt: int, signature: str | None = None) -> int:
        url = self._webhook_url
        sig = signature if signature is not None else self.sign(payload)
        req = urllib.request.Request(
            url or "",
            data=payload,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                "Stripe-Signature": sig,
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                status = resp.status
        except urllib.error.HTTPError as e:
            status = e.code
        except (OSError, ValueError):
            status = 0
        meta = json.loads(payload)
        with self._changed:
            self._deliveries.append(
                {
                    "event_id": meta.get("id"),
                    "type": meta.get("type"),
                    "attempt": attempt,
                    "status": status,
                    "signature": sig,
                }
            )
            self._changed.notify_all()
        return status

    def _deliver_in_background(self, event: dict[str, Any]) -> None:
        self._deliver_all_in_background([event])

    def _deliver_all_in_background(self, events: list[dict[str, Any]]) -> None:
        """POST ``events`` one after the other (each retried until 2xx) in a daemon thread.

        Nothing is sent without a webhook URL (the events stay in ``events()``
        for a test to deliver in any order)."""
        if not self._webhook_url or not events:
            return
        payloads = [self._encode(e) for e in events]

        def run() -> None:
            delays = (0.0, *self.webhook_retry_delays)
            for payload in payloads:
                for attempt, delay in enumerate(delays, start=1):
                    time.sleep(delay)
                    if 200 <= self._post_event(payload, attempt) < 300:
                        break

        threading.Thread(target=run, name="fake-stripe-webhook", daemon=True).start()

    # -- internals: API ----------------------------------------------------------------

    def _check_auth(self, header: str | None) -> None:
        key = None
        if header and header.startswith("Bearer "):
            key = header[7:].strip()
        elif header and header.startswith("Basic "):
            try:
                key = base64.b64decode(header[6:]).decode().split(":", 1)[0]
            except ValueError:
                key = ""
        if not key:
            raise _ApiError(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization header, "
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            )
        if not hmac.compare_digest(key.encode(), self.secret_key.encode()):
            prefix = re.match(r"^[a-z]{2,3}_(?:test|live)_", key)
            masked = (prefix.group(0) if prefix else "") + "*" * 20 + key[-4:]
            raise _ApiError(401, f"Invalid API Key provided: {masked}")

    def _handle_api(
        self, method: str, path: str, pairs: list[tuple[str, str]], headers: Any
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Run one API call; returns (status, body, extra headers)."""
        data = _nest(pairs)
        self._check_auth(headers.get("Authorization"))
        version = headers.get("Stripe-Version") or DEFAULT_API_VERSION
        from .stripe_lists import route as lists  # paginated lists and injected 429s
        from .stripe_refunds import route  # refunds live in their own module

        if (listed := lists(self, method, path, data)) is not None:
            return listed
        if (routed := route(self, method, path, data)) is not None:
            return 200, routed, {}
        if method == "POST" and path == "/v1/checkout/sessions":
            return 200, self._create(data, version), {}
        m = _SESSION_PATH.match(path)
        if m and method == "GET":
            return 200, self._retrieve(m.group(1), data), {}
        m = _EXPIRE_PATH.match(path)
        if m and method == "POST":
            return 200, self._expire_api(m.group(1)), {}
        routed = self._billing_api(method, path, data)
        if routed is not None:
            return 200, routed, {}
        raise _ApiError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
        )

    def _not_found(self, session_id: str) -> _ApiError:
        return _ApiError(
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
            from .stripe_refunds import expand_session

            return expand_session(rec, obj, data.get("expand"))

    def _expire_api(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            try:
                rec = self._get(session_id)
            except KeyError:
                raise self._not_found(session_id) from None
            if rec.obj["status"] != "open":
                raise _ApiError(
                    400,
                    f'Only Checkout Sessions with a status in ["open"] can be expired; '
                    f'this Checkout Session has a status of "{rec.obj["status"]}".',
                    saved=True,
                )
            self._expire(rec)
            return copy.deepcopy(rec.obj)

    def _create(self, data: dict[str, Any], version: str) -> dict[str, Any]:
        for key in data:
            if key not in KNOWN_CREATE_PARAMS:
                raise _ApiError(400, f"Received unknown parameter: {key}", code="parameter_unknown", param=key)
        mode = data.get("mode")
        if not mode:
            raise _missing("mode")
        if mode not in ("payment", "setup", "subscription"):
            raise _ApiError(400, "Invalid mode: must be one of payment, setup, or subscription", param="mode")
        if not data.get("success_url"):
            raise _missing("success_url")
        for url_param in ("success_url", "cancel_url"):
            value = data.get(url_param)
            if value is not None and not re.match(r"^https?://[^/\s]+", value):
                raise _ApiError(400, "Not a valid URL", code="url_invalid", param=url_param)
        raw_items = data.get("line_items")
        if mode in ("payment", "subscription") and not raw_items:
            raise _missing("line_items")
        if raw_items is not None and not isinstance(raw_items, list):
            raise _ApiError(400, "Invalid array", param="line_items")
        items, currency = self._line_items(raw_items or [])
        metadata = data.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise _ApiError(400, "Invalid object", param="metadata")
        if len(metadata) > 50:
            raise _ApiError(400, "You can specify up to 50 keys in metadata.", param="metadata")
        for k, v in metadata.items():
            if len(k) > 40:
                raise _ApiError(400, "Metadata keys can have up to 40 characters.", param=f"metadata[{k}]")
            if len(v) > 500:
                raise _ApiError(400, "Metadata values can have up to 500 characters.", param=f"metadata[{k}]")
        ref = data.get("client_reference_id")
        if ref is not None and len(ref) > 200:
            raise _ApiError(400, "client_reference_id must be at most 200 characters.", param="client_reference_id")
        recurring = [bool(i["price"]["recurring"]) for i in items]
        if mode == "subscription" and not any(recurring):
            raise _ApiError(
                400,
                "You must provide at least one recurring price in `subscription` mode when using prices.",
                param="line_items",
            )
        if mode == "payment" and any(recurring):
            raise _ApiError(
                400,
                "You specified `payment` mode but passed a recurring price. Either switch to `subscription` "
                "mode or use only one-time prices.",
                param="line_items",
            )
        sub_data = data.get("subscription_data") or {}
        if mode != "subscription" and sub_data:
            raise _ApiError(
                400, "You can only specify `subscription_data` in `subscription` mode.", param="subscription_data"
            )
        if not isinstance(sub_data, dict) or not isinstance(sub_data.get("metadata") or {}, dict):
            raise _ApiError(400, "Invalid object", param="subscription_data")
        total = sum(i["amount_total"] for i in items)
        floor = MINIMUM_AMOUNT.get(currency or "", 1)
        if mode == "payment" and total < floor:
            minimum = _format_amount(floor, currency or "usd")
            raise _ApiError(
                400, f"The Checkout Session's total amount due must add up to at least {minimum}", param="line_items"
            )
        now = int(time.time())
        expires_at = now + SESSION_LIFETIME_S
        if data.get("expires_at") is not None:
            expires_at = _as_int(data["expires_at"], "expires_at")
            if not now + 1800 <= expires_at <= now + SESSION_LIFETIME_S:
                raise _ApiError(
                    400,
                    "The `expires_at` timestamp must be between 30 minutes and 24 hours from now.",
                    param="expires_at",
                )
        sid = _rand("cs_test_a1", 56)
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
        rec = _Record(obj, items, version)
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
                raise _ApiError(400, "Invalid object", param=p)
            if "price" in item:
                raise _ApiError(400, f"No such price: '{item['price']}'", code="resource_missing", param=f"{p}[price]")
            pd = item.get("price_data")
            if not isinstance(pd, dict):
                raise _missing(f"{p}[price_data]")
            cur = pd.get("currency")
            if not cur:
                raise _missing(f"{p}[price_data][currency]")
            cur = cur.lower()
            if cur not in CURRENCIES:
                raise _ApiError(
                    400,
                    f"Invalid currency: {cur}. Stripe currently supports these currencies: "
                    + ", ".join(sorted(CURRENCIES)),
                    param=f"{p}[price_data][currency]",
                )
            if currency is not None and cur != currency:
                raise _ApiError(400, "Checkout does not support multiple currencies.", param="line_items")
            currency = cur
            if pd.get("unit_amount") is None:
                raise _missing(f"{p}[price_data][unit_amount]")
            unit = _as_int(pd["unit_amount"], f"{p}[price_data][unit_amount]", minimum=0)
            product = pd.get("product_data")
            if not isinstance(product, dict) and not pd.get("product"):
                raise _missing(f"{p}[price_data][product_data]")
            name = (product or {}).get("name")
            if isinstance(product, dict) and not name:
                raise _missing(f"{p}[price_data][product_data][name]")
            if item.get("quantity") is None:
                raise _missing(f"{p}[quantity]")
            qty = _as_int(item["quantity"], f"{p}[quantity]", minimum=1)
            recurring = pd.get("recurring")
            if recurring is not None:
                recurring = _recurring(recurring, f"{p}[price_data][recurring]")
            items.append(
                {
                    "id": _rand("li_1"),
                    "object": "item",
                    "amount_discount": 0,
                    "amount_subtotal": unit * qty,
                    "amount_tax": 0,
                    "amount_total": unit * qty,
                    "currency": cur,
                    "description": name or pd.get("product"),
                    "price": {
                        "id": _rand("price_1"),
                        "object": "price",
                        "currency": cur,
                        "product": _rand("prod_", 14),
                        "recurring": recurring,
                        "type": "recurring" if recurring else "one_time",
                        "unit_amount": unit,
                    },
                    "quantity": qty,
                }
            )
        return items, currency

    def _api(self, method: str, path: str, body: bytes, headers: Any) -> tuple[int | str, bytes, dict[str, str]]:
        """Idempotency and fault injection around ``_handle_api``."""
        ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        query = urlsplit(path).query
        path = urlsplit(path).path
        pairs = parse_qsl(query, keep_blank_values=True)
        if method == "POST" and ctype == "application/x-www-form-urlencoded":
            pairs += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        idem = headers.get("Idempotency-Key") if method == "POST" else None
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "params": dict(pairs),
            "data": _nest(pairs),
            "idempotency_key": idem,
            "authorized": headers.get("Authorization") == f"Bearer {self.secret_key}",
            "replayed": False,
            "fault": None,
        }
        extra = {"Request-Id": _rand("req_", 14)}
        with self._lock:
            self._log.append(entry)
            fault = self._faults.pop(0) if self._faults else None
            if fault is not None:
                entry["fault"] = fault
                entry["status"] = 0 if fault == "drop" else fault
                if fault == "drop":
                    return "drop", b"", {}
                err = {"error": {"message": "An unknown error occurred", "type": "api_error"}}
                return int(fault), json.dumps(err).encode(), extra
            fingerprint = [method, path, sorted(pairs)]
            if idem:
                extra["Idempotency-Key"] = idem
                saved = self._idem.get(idem)
                if saved is not None:
                    if saved["fingerprint"][:2] != fingerprint[:2]:
                        status, out = (
                            400,
                            _ApiError(
                                400,
                                f"Keys for idempotent requests can only be used for the same endpoint they were first "
                                f"used for ('{saved['fingerprint'][0]} {saved['fingerprint'][1]}' vs '{method} {path}'). "
                                f"Try using a key other than '{idem}' if you meant to execute a different request.",
                                type_="idempotency_error",
                            ).body,
                        )
                    elif saved["fingerprint"] != fingerprint:
                        status, out = (
                            400,
                            _ApiError(
                                400,
                                "Keys for idempotent requests can only be used with the same parameters they were first "
                                f"used with. Try using a key other than '{idem}' if you meant to execute a different "
                                "request.",
                                type_="idempotency_error",
                            ).body,
                        )
                    else:
                        entry.update(replayed=True, status=saved["status"])
                        extra.update({"Idempotent-Replayed": "true", "Original-Request": saved["request_id"]})
                        return saved["status"], saved["body"], extra
                    entry["status"] = status
                    return status, json.dumps(out).encode(), extra
            try:
                status, obj, more = self._handle_api(method, path, pairs, headers)
                save = True
            except _ApiError as e:
                status, obj, more, save = e.status, e.body, {}, e.saved
            extra.update(more)
            out_bytes = json.dumps(obj, indent=2).encode()
            if idem and save:
                self._idem[idem] = {
                    "fingerprint": fingerprint,
                    "status": status,
                    "body": out_bytes,
                    "request_id": extra["Request-Id"],
                }
            entry["status"] = status
            return status, out_bytes, extra

    # -- internals: hosted page --------------------------------------------------------

    def _log_page(self, method: str, path: str) -> None:
        entry = {"method": method, "path": path, "params": {}, "data": {}, "idempotency_key": None}
        entry.update(authorized=False, replayed=False, fault=None, status=None)
        with self._lock:
            self._log.append(entry)

    def _page(self, method: str, session_id: str, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        with self._lock:
            try:
                rec = self._get(session_id)
            except KeyError:
                return 404, _html("Not found", "<p>This checkout page does not exist.</p>"), {}
            obj = rec.obj
            if method == "POST":
                if obj["status"] == "expired":
                    return 410, _html("Expired", "<p>This Checkout Session has expired.</p>"), {}
                first = obj["status"] == "open"
                if first:
                    form = dict(parse_qsl(body.decode("utf-8", "replace")))
                    self._complete(rec, "paid" if obj["amount_total"] else "no_payment_required", form.get("email"))
                target = obj["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)
            else:
                target = None
                page = self._render(rec)
        if method == "POST":
            if first:
                self._deliver_all_in_background(
                    [*self._pay_events(rec), self._event("checkout.session.completed", session_id)]
                )
            return 303, b"", {"Location": target or "/"}
        return (410 if rec.obj["status"] == "expired" else 200), page, {}

    def _render(self, rec: _Record) -> bytes:
        obj = rec.obj
        esc = html.escape
        if obj["status"] == "expired":
            return _html("Expired", '<p data-testid="expired">This Checkout Session has expired.</p>')
        rows = "".join(
            f'<tr data-testid="line-item"><td class="name">{esc(str(i["description"]))}</td>'
            f'<td class="qty">{i["quantity"]}</td>'
            f'<td class="amount">{esc(_format_amount(i["amount_total"], i["currency"]))}{_per(i)}</td></tr>'
            for i in rec.line_items
        )
        total = esc(_format_amount(obj["amount_total"] or 0, obj["currency"] or "usd"))
        verb = "Subscribe" if obj["mode"] == "subscription" else "Pay"
        cancel = (
            f'<a data-testid="cancel" href="{esc(obj["cancel_url"], quote=True)}">Cancel</a>'
            if obj["cancel_url"]
            else ""
        )
        if obj["status"] == "complete":
            action = '<p data-testid="paid">This Checkout Session is already paid.</p>'
        else:
            action = (
                f'<form method="post" action="{PAY_PATH}/{esc(obj["id"], quote=True)}">'
                f'<label>Email <input name="email" type="email" value="{esc(obj["customer_email"] or "", quote=True)}">'
                f'</label> <button data-testid="pay" type="submit">{verb} {total}</button></form>'
            )
        body = (
            f'<h1>Test mode checkout</h1><table>{rows}</table><p>Total due: <strong data-testid="total">{total}'
            f"</strong></p>{action}<p>{cancel}</p>"
        )
        return _html("Checkout", body)


def _per(item: dict[str, Any]) -> str:
    """`` / month`` after a recurring line's amount."""
    recurring = item["price"].get("recurring")
    return f" / {recurring['interval']}" if recurring else ""


def _html(title: str, body: str) -> bytes:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
        f"<body>{body}</body></html>"
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    fake: FakeStripe
    server_version = "stripe-standin/1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _dispatch(self, method: str) -> None:
        body = self._body()
        path = self.path
        m = _PAY_PATH.match(urlsplit(path).path)
        if m and method in ("GET", "POST"):
            self.fake._log_page(method, urlsplit(path).path)
            status, out, headers = self.fake._page(method, m.group(1), body)
            self._send(status, out, {"Content-Type": "text/html; charset=utf-8", **headers})
            return
        status, out, headers = self.fake._api(method, path, body, self.headers)
        if status == "drop":
            self.close_connection = True
            return
        self._send(
            int(status), out, {"Content-Type": "application/json", "Stripe-Version": DEFAULT_API_VERSION, **headers}
        )

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")


class WebhookSink:
    """A local endpoint that records what is POSTed to it (a webhook receiver).

    ``statuses`` are answered in order (then 200), to test retries; ``handler``
    (``(body, headers) -> status``), when given, decides instead.
    """

    def __init__(self, statuses: Iterable[int] = (), handler: Any = None, lifetime_s: float = 60) -> None:
        self.statuses = list(statuses)
        self.handler = handler
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self._lock = threading.Condition()
        sink = self

        class _Sink(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                headers = {k: v for k, v in self.headers.items()}
                with sink._lock:
                    sink.received.append((body, headers))
                    status = sink.statuses.pop(0) if sink.statuses else 200
                    sink._lock.notify_all()
                if sink.handler is not None:
                    status = sink.handler(body, headers)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = LoopbackServer(_Sink, name="webhook-sink", lifetime_s=lifetime_s)

    @property
    def url(self) -> str:
        """The URL to give ``FakeStripe.set_webhook_url``."""
        return f"{self._server.url}/webhook"

    def wait(self, n: int, timeout: float = 5.0) -> list[tuple[bytes, dict[str, str]]]:
        """Block until ``n`` requests arrived; returns (body, headers) pairs."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.received) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.received)} of {n} webhooks after {timeout}s")
                self._lock.wait(left)
            return list(self.received)

    def stop(self) -> None:
        """Stop the receiver; safe to call twice."""
        self._server.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
