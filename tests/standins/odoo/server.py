"""The HTTP face: a threading server on the loopback, its handler, and :class:`FakeOdoo`.

Each request is counted, delayed, maybe faulted (:mod:`.faults`), then answered
by :class:`~.app.OdooApp`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..loopback import LoopbackServer
from .app import OdooApp
from .envelopes import Dropped, Reply, html_reply, json2_error, jsonrpc_error
from .errors import OdooError
from .faults import FaultPlan, Gate, injected_error
from .fields import parse_datetime
from .table import Env

# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that remembers its open connections."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, fake: FakeOdoo):
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(address, handler)

    def close_connections(self) -> None:
        """Shut every open connection down (keep-alive ones included)."""
        with self.conn_lock:
            sockets = list(self.connections)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """Reads a request, counts it, applies latency and faults, answers it."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        """Track the connection so stop() can close it; no Nagle delay."""
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.conn_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        """Untrack the connection; ignore errors on a dropped socket."""
        with contextlib.suppress(OSError):
            super().finish()
        with self.server.conn_lock:
            self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def do_GET(self) -> None:
        """GET."""
        self._serve("GET")

    def do_POST(self) -> None:
        """POST."""
        self._serve("POST")

    def do_PUT(self) -> None:
        """PUT (answered with 405 on JSON-2)."""
        self._serve("PUT")

    def _serve(self, verb: str) -> None:
        """Run one request through the fake's pipeline."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        try:
            reply = self.server.fake.process(verb, path, self.headers, body)
        except Dropped:
            reply = Reply(drop=True)
        except Exception as exc:  # a stand-in bug: answer like a crashed server
            reply = html_reply(500, "Internal Server Error", f"{type(exc).__name__}: {exc}")
        if reply.drop:
            self._drop()
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self._headers_buffer.append(b"\r\n" + reply.body)  # one write: headers + body
        self.flush_headers()

    def _drop(self) -> None:
        """Close the connection without a byte of answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


# ---------------------------------------------------------------------------
# Public face
# ---------------------------------------------------------------------------


class FakeOdoo:
    """An Odoo 19 stand-in on ``http://127.0.0.1:<port>``, for tests.

    Use as a context manager, or ``start()``/``stop()``. It stops by itself
    after ``lifetime_s`` seconds. Fault injection and latency can be changed
    while it runs; ``calls()`` counts round trips.
    """

    def __init__(
        self,
        *,
        db: str = "credits",
        login: str = "admin",
        api_key: str = "test-api-key",
        uid: int = 2,
        lifetime_s: float = 900.0,
        user_name: str = "Administrator",
        major: int = 19,
    ):
        self.app = OdooApp(db=db, login=login, api_key=api_key, uid=uid, user_name=user_name, major=major)
        self.lifetime_s = lifetime_s
        self.faults = FaultPlan()
        self.stopped = threading.Event()
        self._latency = 0.0
        self._calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._answer_gates: list[Gate] = []
        self._server: LoopbackServer | None = None
        self.url = ""

    # -- life cycle ---------------------------------------------------------------

    def start(self) -> FakeOdoo:
        """Bind 127.0.0.1 on a free port, serve in a daemon thread, arm the timer."""
        self._server = LoopbackServer(
            name="fake-odoo",
            lifetime_s=self.lifetime_s,
            server_factory=lambda address: _Server(address, _Handler, self),
            on_stop=self._on_stopped,
        )
        self.url = self._server.url
        return self

    def _on_stopped(self, server: _Server) -> None:
        self.stopped.set()  # wakes requests hanging in a "timeout" fault
        server.close_connections()

    def stop(self) -> None:
        """Stop serving and close every connection (idempotent)."""
        self.stopped.set()
        if self._server is not None:
            self._server.stop()

    @property
    def running(self) -> bool:
        """True until stop() (or the lifetime timer) ran."""
        return self._server is not None and not self.stopped.is_set()

    def __enter__(self) -> FakeOdoo:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # -- knobs --------------------------------------------------------------------

    def set_latency(self, seconds: float) -> None:
        """Delay every request by ``seconds`` before it is handled."""
        with self._lock:
            self._latency = max(0.0, float(seconds))

    def inject(
        self,
        fault: str | None,
        rate: float = 1.0,
        methods: set[str] | None = None,
        seed: int | None = None,
        *,
        times: int | None = None,
        hang_s: float = 30.0,
    ) -> None:
        """Make requests fail; ``fault=None`` clears.

        Faults: ``refused`` (connection closed before any work), ``timeout``
        (wait ``hang_s`` then close, nothing done), ``http500`` (HTML 500,
        nothing done), ``access_error`` / ``validation_error`` (Odoo error,
        nothing done), ``drop_after_commit`` (work done and committed, then
        the connection is closed without an answer). ``methods`` filters by
        ORM method (``create``, ``search_read``, ...) or ``authenticate`` /
        ``version``; ``rate`` uses an RNG seeded with ``seed``; ``times``
        limits how many requests are hit.
        """
        self.faults.set(fault, rate, methods, seed, times, hang_s)

    def hold_create(self, *, committed: bool) -> Gate:
        """Hold the next ``create``: before its rows become visible (``committed=False``: its ids are drawn,
        as Odoo draws them from a sequence before the commit), or after the commit, before its answer
        goes out (``committed=True``: a writer that has not verified yet). ``release()`` lets it go."""
        gate = Gate()
        if committed:
            with self._lock:
                self._answer_gates.append(gate)
        else:
            with self.app.table.lock:
                self.app.table.gates.append(gate)
        return gate

    def set_api_key(self, api_key: str) -> None:
        """Replace the API key (the old one is then refused: a revoked key)."""
        self.app.api_key = api_key

    def set_clock(self, now: Callable[[], dt.datetime] | None) -> None:
        """Use ``now()`` (naive UTC) for create/write dates; None = real time."""
        self.app.clock = now or (lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None))

    # -- inspection ---------------------------------------------------------------

    def calls(self) -> list[tuple[str, str]]:
        """``(protocol, method)`` per request received, in order."""
        with self._lock:
            return list(self._calls)

    def reset_calls(self) -> None:
        """Forget the recorded calls."""
        with self._lock:
            self._calls.clear()

    def rows(self, active_test: bool = True) -> list[dict]:
        """Stored crm.lead rows by id, read-formatted (archived ones on request)."""
        table = self.app.table
        with table.lock:
            ids = sorted(rid for rid, row in table.rows.items() if row["active"] or not active_test)
            env = Env(self.app.uid, {}, self.app.clock())
            return table.read(env, ids, None, load=None)

    def insert(self, vals: dict, *, create_date: str | dt.datetime | None = None) -> int:
        """Create a row directly (no HTTP, no call recorded), e.g. with an old date."""
        when = parse_datetime(create_date) or self.app.clock()
        with self.app.table.transaction():
            return self.app.table.create(Env(self.app.uid, {}, when), [vals])[0]

    # -- request pipeline (called by the handler threads) ---------------------------

    def process(self, verb: str, path: str, headers, body: bytes) -> Reply:
        """Count, delay, maybe fault, then answer one request."""
        protocol, method = OdooApp.label(path, body)
        with self._lock:
            self._calls.append((protocol, method))
            latency = self._latency
        if self.stopped.is_set():
            raise Dropped
        if latency and self.stopped.wait(latency):
            raise Dropped
        fault = self.faults.pick(method)
        if fault in ("refused", "timeout"):
            if fault == "timeout":
                self.stopped.wait(self.faults.hang_s)
            raise Dropped
        if fault == "http500":
            return html_reply(500, "Internal Server Error", "The server encountered an internal error.")
        if fault in ("access_error", "validation_error"):
            return self._fault_reply(protocol, path, body, injected_error(fault))
        reply = self.app.handle(verb, path, headers, body)
        if fault == "drop_after_commit" or self.stopped.is_set():
            raise Dropped
        if method == "create" and reply.status == 200:
            with self._lock:
                gate = self._answer_gates.pop(0) if self._answer_gates else None
            if gate is not None:
                gate.pause()
        return reply

    def _fault_reply(self, protocol: str, path: str, body: bytes, error: OdooError) -> Reply:
        """An injected Odoo error in the request's own protocol."""
        if protocol == "json2":
            return json2_error(error)
        if protocol == "jsonrpc":
            try:
                request_id = json.loads(body).get("id")
            except (ValueError, AttributeError):
                request_id = None
            return jsonrpc_error(request_id, error, self.app.major)
        return html_reply(500, "Internal Server Error", error.message)
