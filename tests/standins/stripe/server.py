"""The HTTP face: :class:`FakeStripe` (state, life cycle) and its request handler."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler
from typing import Any, Self
from urllib.parse import urlsplit

from ..loopback import LoopbackServer
from .api import ApiMixin
from .billing import BillingMixin
from .billing_api import BillingApiMixin
from .checkout import CheckoutMixin
from .objects import DEFAULT_API_VERSION
from .page import PAY_PATH_RE, HostedPageMixin
from .refunds import RefundsMixin
from .sessions import SessionRecord, SessionsMixin
from .webhooks import WebhookMixin


class FakeStripe(
    ApiMixin,
    CheckoutMixin,
    SessionsMixin,
    RefundsMixin,
    WebhookMixin,
    HostedPageMixin,
    BillingMixin,
    BillingApiMixin,
):
    """A Stripe stand-in on 127.0.0.1; use as a context manager or start()/stop().

    Each concern is a mixin in its own module: the API front (``api.py``),
    Checkout Sessions (``checkout.py``, ``sessions.py``), refunds
    (``refunds.py``), events and webhooks (``webhooks.py``), the hosted page
    (``page.py``), and subscriptions, customers and invoices (``billing.py``,
    ``billing_api.py``)."""

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
        self._sessions: dict[str, SessionRecord] = {}
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
        m = PAY_PATH_RE.match(urlsplit(path).path)
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
