"""Events and their signed delivery to the webhook URL, and a receiver for tests.

Webhook signatures ``Stripe-Signature: t=<ts>,v1=<hex>`` where ``<hex>`` is
HMAC-SHA256 of ``"<ts>.<raw body>"`` under the endpoint secret
(https://docs.stripe.com/webhooks#verify-manually; the same computation as
``stripe.WebhookSignature._compute_signature`` in stripe-python 16). Every
delivery attempt, retries included, is signed with a fresh timestamp, as
Stripe does.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any, Self

from ..loopback import LoopbackServer
from .objects import rand_id


class WebhookMixin:
    """Events of :class:`~.server.FakeStripe` and their delivery (test controls and internals)."""

    # Provided by FakeStripe.
    webhook_secret: str
    webhook_retry_delays: tuple[float, ...]
    _webhook_url: str | None
    _lock: threading.RLock
    _changed: threading.Condition
    _deliveries: list[dict[str, Any]]
    _events: list[dict[str, Any]]

    def set_webhook_url(self, url: str | None) -> None:
        """Where events from the hosted page (and ``deliver``) are POSTed."""
        self._webhook_url = url

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

    # -- internals: events -----------------------------------------------------------

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
                "id": rand_id("evt_1"),
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
