"""Remember Clerk session tokens that were already verified (see ``TokenCache``).

A client reuses its Clerk session token (60 s lifetime) for many requests,
and PyJWT 2.15 parses a token (twice per verification in ``ClerkVerifier``)
at several times the cost of the RSA check itself; remembering accepted
tokens until their ``exp`` (at most ``ttl_s``) removes that from the hot path
without accepting any token longer than the verifier would.
"""

from __future__ import annotations

import threading
import time

from credits_core.auth import ClerkVerifier, Principal


class TokenCache:
    """A ``ClerkVerifier`` that remembers the tokens it accepted.

    An accepted token is answered from memory until ``min(exp, accepted + ttl_s)``;
    refused tokens are never remembered (each is judged again). At most
    ``max_entries`` tokens are kept (oldest dropped first). Tokens live only
    in this dict: never logged, never returned.
    """

    def __init__(self, verifier: ClerkVerifier, *, ttl_s: float = 30.0, max_entries: int = 4096) -> None:
        self.verifier = verifier
        self._ttl = ttl_s
        self._max = max_entries
        self._lock = threading.Lock()
        self._accepted: dict[str, tuple[Principal, float]] = {}

    @staticmethod
    def _token(header: str | None) -> str | None:
        if not header or header[:7].lower() != "bearer ":
            return None
        return header[7:].strip() or None

    def cached(self, header: str | None) -> Principal | None:
        """The principal of an already accepted, unexpired token; else None (no I/O)."""
        token = self._token(header)
        hit = self._accepted.get(token) if token else None
        if hit is None:
            return None
        principal, until = hit
        if time.time() >= until:
            with self._lock:
                self._accepted.pop(token, None)  # type: ignore[arg-type]
            return None
        return principal

    def verify_authorization_header(self, header: str | None) -> Principal:
        """Like ``ClerkVerifier.verify_authorization_header``, through the cache."""
        principal = self.cached(header)
        if principal is not None:
            return principal
        principal = self.verifier.verify_authorization_header(header)  # raises AuthError
        token = self._token(header)
        exp = principal.claims.get("exp")
        if token and isinstance(exp, int | float):
            until = min(float(exp), time.time() + self._ttl)
            with self._lock:
                if len(self._accepted) >= self._max:
                    self._accepted.pop(next(iter(self._accepted)))
                self._accepted[token] = (principal, until)
        return principal
