"""The one way stand-ins serve: 127.0.0.1, a free port, a daemon thread, a hard lifetime.

Every stand-in (Clerk JWKS, Stripe, its webhook sink, OIDC, Odoo) runs on a
:class:`LoopbackServer`, so none can listen beyond the loopback address or
outlive a test run: each stops itself after ``lifetime_s``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LoopbackServer:
    """``server_factory(("127.0.0.1", 0))`` serving in a daemon thread until ``stop()`` or ``lifetime_s``."""

    def __init__(
        self,
        handler: type[BaseHTTPRequestHandler] | None = None,
        *,
        name: str,
        lifetime_s: float,
        server_factory: Callable[[tuple[str, int]], ThreadingHTTPServer] | None = None,
        on_stop: Callable[[ThreadingHTTPServer], Any] | None = None,
        poll_interval: float = 0.05,
    ) -> None:
        if server_factory is None:
            assert handler is not None, "give a handler class or a server factory"
            server_factory = lambda address: ThreadingHTTPServer(address, handler)  # noqa: E731
        self._server = server_factory(("127.0.0.1", 0))
        self._server.daemon_threads = True
        self._on_stop = on_stop
        self._stopped = threading.Event()
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": poll_interval}, name=name, daemon=True
        ).start()
        self._timer = threading.Timer(lifetime_s, self.stop)
        self._timer.daemon = True
        self._timer.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return not self._stopped.is_set()

    def stop(self) -> None:
        """Stop serving and free the port; safe to call twice and from the timer."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self._timer is not threading.current_thread():
            self._timer.cancel()
        self._server.shutdown()
        self._server.server_close()
        if self._on_stop is not None:
            self._on_stop(self._server)
