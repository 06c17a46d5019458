"""One HTTP client for Odoo's two external APIs, on ``crm.lead`` only.

* ``jsonrpc`` — legacy ``POST /jsonrpc``: ``common.version``,
  ``common.authenticate`` (uid cached) and ``object.execute_kw(db, uid, key,
  model, method, args, kwargs)``; errors come back as HTTP 200 envelopes
  ``{"error": {"data": {"name", "message", "debug"}}}`` (``odoo/http.py``
  ``JsonRPCDispatcher.handle_error``, ``odoo/service/common.py``,
  ``odoo/service/model.py``).
* ``json2`` — Odoo 19 ``POST /json/2/crm.lead/<method>`` with named
  arguments, ``Authorization: bearer <key>`` and ``X-Odoo-Database``
  (``addons/web/controllers/json2.py``, ``ir_http._auth_method_bearer``);
  errors are ``serialize_exception`` bodies with the exception's status.

Callers get a result, an :class:`OdooError` (Odoo answered and refused: its
transaction was rolled back) or an :class:`OdooTransportError` (no usable
answer; ``sent`` tells whether the request may have reached Odoo, i.e.
whether a write may have committed). This module never retries and never
puts Odoo's ``debug`` traceback or the API key into a message.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import httpx

MODEL = "crm.lead"
_RECORD_METHODS = frozenset({"read", "write", "unlink"})
_SESSION_ERRORS = ("odoo.exceptions.AccessDenied", "odoo.exceptions.SessionExpiredException")


class OdooError(Exception):
    """Odoo answered with an error (``name`` like ``odoo.exceptions.AccessError``)."""

    def __init__(self, name: str, message: str, status: int = 200) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message
        self.status = status

    @property
    def short(self) -> str:
        """``AccessError: <first line of Odoo's message>`` (no traceback)."""
        first = (self.message or "").strip().splitlines()[0] if (self.message or "").strip() else ""
        return f"{self.name.rsplit('.', 1)[-1]}: {first[:200]}".rstrip(": ")

    @property
    def session_invalid(self) -> bool:
        """The uid/key is not (or no longer) accepted: worth one re-authentication."""
        if self.name in _SESSION_ERRORS:
            return True
        return self.name == "odoo.exceptions.MissingError" and "res.users" in self.message


class OdooTransportError(Exception):
    """No usable answer: refused, timed out, dropped, or a non-Odoo HTTP error.

    ``sent`` is False only when the request certainly never reached Odoo
    (the connection could not be opened), so nothing can have been written.
    """

    def __init__(self, message: str, *, sent: bool, status: int | None = None, timeout: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.sent = sent
        self.status = status
        self.timeout = timeout  # no answer in time: Odoo may still be working on it


class OdooClient:
    """Calls ``crm.lead`` methods over ``protocol``; thread-safe (one pooled httpx client)."""

    def __init__(
        self,
        url: str,
        db: str,
        username: str,
        api_key: str,
        *,
        protocol: str = "jsonrpc",
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if protocol not in ("jsonrpc", "json2"):
            raise ValueError(f"unknown Odoo protocol {protocol!r}")
        self.url = url.rstrip("/")
        self.db = db
        self.username = username
        self._key = api_key
        self.protocol = protocol
        self.timeout_s = timeout_s
        self._uid: int | None = None
        self._auth_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._rtt = 0.005
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            transport=transport,
        )

    # -- public --------------------------------------------------------------------
    @property
    def rtt(self) -> float:
        """Moving average of a round trip, in seconds (for back-off sizing)."""
        return self._rtt

    def close(self) -> None:
        self._http.close()

    def scrub(self, text: str) -> str:
        """``text`` without the API key in it."""
        return text.replace(self._key, "***") if self._key else text

    def version(self) -> dict[str, Any]:
        """``common.version`` (jsonrpc) or ``GET /web/version`` (json2); unauthenticated."""
        if self.protocol == "jsonrpc":
            return self._jsonrpc("common", "version", [])
        response = self._send("GET", f"{self.url}/web/version")
        return self._json_body(response)

    def authenticate(self) -> int | None:
        """jsonrpc: ``common.authenticate`` → uid (None when refused). json2: no-op."""
        if self.protocol != "jsonrpc":
            return None
        uid = self._jsonrpc("common", "authenticate", [self.db, self.username, self._key, {}])
        with self._auth_lock:
            self._uid = uid if isinstance(uid, int) and not isinstance(uid, bool) and uid > 0 else None
        return self._uid

    def call(self, method: str, *, ids: list[int] | None = None, **params: Any) -> Any:
        """One ``crm.lead.<method>`` request with named ``params`` (no retry).

        A jsonrpc uid that Odoo no longer accepts is re-authenticated once.
        """
        try:
            return self._call(method, ids, params)
        except OdooError as exc:
            if self.protocol != "jsonrpc" or not exc.session_invalid:
                raise
        if self.authenticate() is None:
            raise OdooError("odoo.exceptions.AccessDenied", "Odoo refused the login (ODOO_USERNAME / ODOO_API_KEY)")
        return self._call(method, ids, params)

    # -- protocols -------------------------------------------------------------------
    def _call(self, method: str, ids: list[int] | None, params: dict[str, Any]) -> Any:
        if self.protocol == "json2":
            body = dict(params)
            if method in _RECORD_METHODS:
                body["ids"] = list(ids or [])
            headers = {"Authorization": f"bearer {self._key}", "X-Odoo-Database": self.db}
            response = self._send("POST", f"{self.url}/json/2/{MODEL}/{method}", json=body, headers=headers)
            return self._json_body(response)
        uid = self._uid if self._uid is not None else self.authenticate()
        if uid is None:
            raise OdooError("odoo.exceptions.AccessDenied", "Odoo refused the login (ODOO_USERNAME / ODOO_API_KEY)")
        args: list[Any] = [list(ids or [])] if method in _RECORD_METHODS else []
        if method == "create":
            # Odoo 19 ``api._call_kw_model_create`` shapes its answer from ``args[0]``: a keyword-only
            # ``vals_list`` inserts, then raises IndexError and rolls back (ODOO_NOTES "create over /jsonrpc").
            params = dict(params)
            args = [params.pop("vals_list")]
        return self._jsonrpc("object", "execute_kw", [self.db, uid, self._key, MODEL, method, args, params])

    def _jsonrpc(self, service: str, method: str, args: list[Any]) -> Any:
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": next(self._ids),
            "params": {"service": service, "method": method, "args": args},
        }
        body = self._json_body(self._send("POST", f"{self.url}/jsonrpc", json=payload))
        if not isinstance(body, dict):
            raise OdooTransportError("Odoo answered something that is not JSON-RPC", sent=True)
        if "error" in body:
            error = body["error"] or {}
            data = error.get("data") or {}
            raise OdooError(
                str(data.get("name") or "odoo.error"), str(data.get("message") or error.get("message") or "")
            )
        return body.get("result")

    # -- HTTP ----------------------------------------------------------------------
    def _send(self, verb: str, url: str, **kwargs: Any) -> httpx.Response:
        started = time.monotonic()
        try:
            response = self._http.request(verb, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise OdooTransportError(f"cannot connect to Odoo at {self.url} ({_reason(exc)})", sent=False) from None
        except httpx.TimeoutException:
            raise OdooTransportError(
                f"Odoo did not answer within {self.timeout_s:g} s", sent=True, timeout=True
            ) from None
        except httpx.HTTPError as exc:
            raise OdooTransportError(f"the connection to Odoo failed ({_reason(exc)})", sent=True) from None
        self._rtt = 0.8 * self._rtt + 0.2 * (time.monotonic() - started)
        return response

    def _json_body(self, response: httpx.Response) -> Any:
        is_json = response.headers.get("content-type", "").startswith("application/json")
        if response.status_code == 200 and is_json:
            try:
                return response.json()
            except ValueError:
                raise OdooTransportError("Odoo answered invalid JSON", sent=True) from None
        if is_json:
            try:
                data = response.json()
            except ValueError:
                data = None
            if isinstance(data, dict) and "name" in data:
                raise OdooError(str(data["name"]), str(data.get("message") or ""), response.status_code)
        if response.status_code >= 500:
            raise OdooTransportError(
                f"Odoo answered HTTP {response.status_code}", sent=True, status=response.status_code
            )
        raise OdooError(f"http.{response.status_code}", _http_reason(response), response.status_code)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:160]


def _http_reason(response: httpx.Response) -> str:
    if response.status_code == 404:
        return "not found (unknown database or model)"
    if response.status_code == 401:
        return "the API key was refused"
    return response.reason_phrase or f"HTTP {response.status_code}"
