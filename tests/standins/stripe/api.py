"""The API front: authentication, routing, idempotency and injected faults.

``Idempotency-Key`` on POST (https://docs.stripe.com/api/idempotent_requests):
the first response of an endpoint that started executing is saved and
replayed, with ``Idempotent-Replayed: true``, for the same key and the same
parameters; the same key with other parameters or another endpoint is a 400
of type ``idempotency_error``; requests that fail parameter validation (or
authentication) save nothing and may be retried with the same key.
"""

from __future__ import annotations

import base64
import copy
import hmac
import json
import re
import threading
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import lists, refunds
from .errors import ApiError
from .forms import nest
from .objects import DEFAULT_API_VERSION, rand_id

_SESSION_PATH = re.compile(r"^/v1/checkout/sessions/([^/]+)$")
_EXPIRE_PATH = re.compile(r"^/v1/checkout/sessions/([^/]+)/expire$")


class ApiMixin:
    """The API entry of :class:`~.server.FakeStripe`: every resource mixin answers behind it."""

    # Provided by FakeStripe.
    secret_key: str
    _lock: threading.RLock
    _idem: dict[str, dict[str, Any]]
    _log: list[dict[str, Any]]
    _faults: list[int | str]

    # -- test controls -------------------------------------------------------------

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
            raise ApiError(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization header, "
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            )
        if not hmac.compare_digest(key.encode(), self.secret_key.encode()):
            prefix = re.match(r"^[a-z]{2,3}_(?:test|live)_", key)
            masked = (prefix.group(0) if prefix else "") + "*" * 20 + key[-4:]
            raise ApiError(401, f"Invalid API Key provided: {masked}")

    def _handle_api(
        self, method: str, path: str, pairs: list[tuple[str, str]], headers: Any
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Run one API call; returns (status, body, extra headers)."""
        data = nest(pairs)
        self._check_auth(headers.get("Authorization"))
        version = headers.get("Stripe-Version") or DEFAULT_API_VERSION
        # paginated lists and injected 429s
        if (listed := lists.route(self, method, path, data)) is not None:
            return listed
        # refunds live in their own module
        if (routed := refunds.route(self, method, path, data)) is not None:
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
        raise ApiError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
        )

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
            "data": nest(pairs),
            "idempotency_key": idem,
            "authorized": headers.get("Authorization") == f"Bearer {self.secret_key}",
            "replayed": False,
            "fault": None,
        }
        extra = {"Request-Id": rand_id("req_", 14)}
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
                            ApiError(
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
                            ApiError(
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
            except ApiError as e:
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
