"""Where Clerk's signing keys come from: one ``key_for(kid)``, two sources.

Like an httpx transport, the verifier never asks which source it holds:

* :class:`PemKeySource` — networkless: ``CLERK_JWT_KEY`` holds the instance's
  PEM public key and the token's ``kid`` is ignored, like Clerk's
  ``loadClerkJwkFromPem`` (clerk/javascript packages/backend/src/tokens/keys.ts,
  where the kid is only a cache key) and clerk-sdk-python
  ``security/verifytoken.py`` (``jwt_key`` wins over ``secret_key``);
* :class:`JwksKeySource` — ``GET https://api.clerk.com/v1/jwks`` with
  ``Authorization: Bearer <CLERK_SECRET_KEY>`` (Clerk Backend API, "Manual JWT
  verification"; ``fetchJWKSFromBAPI`` in keys.ts), cached.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from credits_core.config import http_url
from credits_core.errors import AuthUnavailable, InvalidToken

log = logging.getLogger("credits_core.auth")

DEFAULT_JWKS_URL = "https://api.clerk.com/v1/jwks"
ALGORITHM = "RS256"


class KeySource(Protocol):
    """Gives the RSA public key that signed a token, by the token's ``kid``."""

    def key_for(self, kid: str | None) -> RSAPublicKey:
        """The key; ``InvalidToken`` for an unknown kid, ``AuthUnavailable`` when keys cannot be had."""
        ...

    def close(self) -> None:
        """Release what the source holds (an HTTP client)."""
        ...


class PemKeySource:
    """One configured PEM key; the kid plays no part (no network ever)."""

    def __init__(self, pem: str) -> None:
        self._key = load_pem(pem)

    def key_for(self, kid: str | None) -> RSAPublicKey:
        return self._key

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class _KeySet:
    keys: Mapping[str, RSAPublicKey]
    fetched_at: float  # time.monotonic() of the successful fetch


_EMPTY = _KeySet(MappingProxyType({}), float("-inf"))


class JwksKeySource:
    """Clerk's JWKS fetched with the secret key, cached; safe to share between threads.

    The key set is cached ``cache_ttl_s`` (300 s, as Clerk's SDK and
    PyJWKClient's default ``lifespan``). An unknown ``kid`` triggers at most one
    refetch per call, and forced refetches are at least ``refetch_interval_s``
    apart across all threads, so random kids cannot hammer Clerk (the
    ``cooldown_duration`` idea of PyJWKClient 2.15, jpadilla/pyjwt#1207/#1208).
    Concurrent callers share one in-flight fetch.

    A failed fetch (network error, timeout, non-200, unusable body) raises
    ``AuthUnavailable`` (503): the token was not judged. After a failure no
    fetch is attempted for ``refetch_interval_s``; keys from an expired cache
    are still used for up to ``stale_if_error_s`` while Clerk is unreachable.

    PyJWKClient itself is not used: it fetches with urllib under a lock held by
    every lookup, and it cannot take an injected ``httpx.Client``.
    """

    def __init__(
        self,
        secret_key: str,
        url: str = DEFAULT_JWKS_URL,
        *,
        timeout_s: float = 5,
        http_client: httpx.Client | None = None,
        cache_ttl_s: float = 300.0,
        refetch_interval_s: float = 5.0,
        stale_if_error_s: float = 3600.0,
    ) -> None:
        url = http_url(url, "jwks_url")
        if timeout_s <= 0 or cache_ttl_s <= 0:
            raise ValueError("timeout_s and cache_ttl_s must be > 0")
        if refetch_interval_s < 0 or stale_if_error_s < 0:
            raise ValueError("refetch_interval_s and stale_if_error_s must be >= 0")
        self._secret = secret_key
        self._jwks_url = url
        self._timeout = timeout_s
        self._ttl = cache_ttl_s
        self._interval = refetch_interval_s
        self._stale = stale_if_error_s
        self._client = http_client
        self._owns_client = False
        # _keyset is replaced whole, so the fast path reads it without a lock.
        self._keyset = _EMPTY
        self._fetch_lock = threading.Lock()
        self._next_forced = float("-inf")  # earliest forced refetch (monotonic)
        self._retry_after = float("-inf")  # no fetch before this after a failure
        self._last_failure = "Clerk signing keys are unavailable"

    def close(self) -> None:
        """Close the HTTP client if this source created it."""
        with self._fetch_lock:
            if self._owns_client and self._client is not None:
                self._client.close()
                self._client = None
                self._owns_client = False

    def key_for(self, kid: str | None) -> RSAPublicKey:
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("token has no key id (kid)")
        seen = self._keyset
        if time.monotonic() - seen.fetched_at < self._ttl:
            key = seen.keys.get(kid)
            if key is not None:
                return key  # fast path: no lock, no network
            return self._refresh(kid, seen, forced=True)
        return self._refresh(kid, seen, forced=False)

    def _refresh(self, kid: str, seen: _KeySet, *, forced: bool) -> RSAPublicKey:
        with self._fetch_lock:
            now = time.monotonic()
            current = self._keyset
            if current is not seen and now - current.fetched_at < self._ttl:
                # Another thread fetched after we looked: that was our refetch.
                return _pick(current, kid)
            if forced and now < self._next_forced:
                raise InvalidToken("unknown signing key")  # refetch budget spent
            if now < self._retry_after:
                return self._stale_or_raise(current, kid, now)  # failed moments ago
            if forced:
                self._next_forced = now + self._interval
            try:
                keys = self._fetch()
            except AuthUnavailable as exc:
                self._retry_after = time.monotonic() + self._interval
                self._last_failure = exc.message
                log.warning("Clerk JWKS fetch failed: %s", exc.message)
                return self._stale_or_raise(current, kid, now)
            self._keyset = _KeySet(MappingProxyType(keys), time.monotonic())
            return _pick(self._keyset, kid)

    def _stale_or_raise(self, current: _KeySet, kid: str, now: float) -> RSAPublicKey:
        """Serve a recently expired key while Clerk is unreachable, else 503."""
        key = current.keys.get(kid)
        if key is not None and now - current.fetched_at < self._ttl + self._stale:
            return key
        raise AuthUnavailable(self._last_failure)

    def _fetch(self) -> dict[str, RSAPublicKey]:
        """GET the JWKS with the secret key; raise AuthUnavailable on any failure."""
        client = self._client
        if client is None:
            client = self._client = httpx.Client(timeout=self._timeout, follow_redirects=False)
            self._owns_client = True
        headers = {"Authorization": f"Bearer {self._secret}", "Accept": "application/json"}
        try:
            resp = client.get(self._jwks_url, headers=headers, timeout=self._timeout, follow_redirects=False)
        except httpx.TimeoutException:
            raise AuthUnavailable("timed out fetching Clerk signing keys") from None
        except httpx.HTTPError as exc:
            name = type(exc).__name__
            raise AuthUnavailable(f"could not reach Clerk JWKS ({name})") from None
        if resp.status_code in (401, 403):
            raise AuthUnavailable(
                f"Clerk JWKS refused the secret key (HTTP {resp.status_code}); check CLERK_SECRET_KEY"
            )
        if resp.status_code != 200:
            raise AuthUnavailable(f"Clerk JWKS answered HTTP {resp.status_code}")
        try:
            body = resp.json()
        except ValueError:
            raise AuthUnavailable("Clerk JWKS answer is not JSON") from None
        keys = _parse_jwks(body)
        if not keys:
            raise AuthUnavailable("Clerk JWKS has no usable RS256 signing keys")
        return keys


def _pick(keyset: _KeySet, kid: str) -> RSAPublicKey:
    key = keyset.keys.get(kid)
    if key is None:
        raise InvalidToken("unknown signing key")
    return key


def _parse_jwks(body: Any) -> dict[str, RSAPublicKey]:
    """Keep RSA signing keys with a kid (``use`` sig or absent, ``alg`` RS256 or absent)."""
    entries = body.get("keys") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        return {}
    keys: dict[str, RSAPublicKey] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA":
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        if entry.get("use", "sig") != "sig" or entry.get("alg", ALGORITHM) != ALGORITHM:
            continue
        try:
            key = jwt.PyJWK(entry, algorithm=ALGORITHM).key
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            log.warning("skipping unusable JWKS key %r", kid)
            continue
        if isinstance(key, RSAPublicKey):
            keys[kid] = key
    return keys


def load_pem(pem: str) -> RSAPublicKey:
    """Parse a PEM RSA public key; accepts escaped ``\\n`` and one-line PEMs."""
    text = pem.strip().replace("\\r", "").replace("\\n", "\n")
    try:
        key = load_pem_public_key(text.encode())
    except Exception:  # ValueError, TypeError, UnsupportedAlgorithm
        raise ValueError("not a valid PEM public key") from None
    if not isinstance(key, RSAPublicKey):
        raise ValueError("PEM key is not an RSA public key")
    return key
