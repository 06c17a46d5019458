"""Verify Clerk session tokens (RS256 JWTs) for the HTTP API.

Two key sources, as in Clerk's own SDKs:

* networkless: ``CLERK_JWT_KEY`` holds the instance's PEM public key; no network
  is ever used and the token's ``kid`` is ignored, like Clerk's
  ``loadClerkJwkFromPem`` (clerk/javascript packages/backend/src/tokens/keys.ts,
  where the kid is only a cache key) and clerk-sdk-python
  ``security/verifytoken.py`` (``jwt_key`` wins over ``secret_key``);
* JWKS: ``GET https://api.clerk.com/v1/jwks`` with
  ``Authorization: Bearer <CLERK_SECRET_KEY>`` (Clerk Backend API, "Manual JWT
  verification" guide; ``fetchJWKSFromBAPI`` in keys.ts).

Claim checks follow Clerk's session-token docs
(https://clerk.com/docs/guides/sessions/session-tokens: ``sub`` user id, ``sid``
session id, ``azp`` origin, ``exp``/``nbf``/``iat`` unix times, ``iss`` the
Frontend API URL) and ``verifyJwt``/``assertions.ts`` in clerk/javascript: 5 s
default clock skew, ``typ`` must be ``JWT`` when present, ``aud`` is not used
(Clerk puts the origin in ``azp``), ``iss`` is not checked.

No Streamlit import: the HTTP layer and the pages share this module.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlparse

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from credits_core.errors import ConfigError, InvalidKey, Unauthorized
from credits_core.keys import check_user

__all__ = [
    "DEFAULT_JWKS_URL",
    "AuthError",
    "AuthUnavailableError",
    "ClerkConfigError",
    "ClerkVerifier",
    "Principal",
]

log = logging.getLogger(__name__)

DEFAULT_JWKS_URL = "https://api.clerk.com/v1/jwks"
ALGORITHM = "RS256"
# Clerk session tokens are ~1-2 KB; anything far larger is refused before parsing.
MAX_TOKEN_CHARS = 16_384


@dataclass(frozen=True)
class Principal:
    """A verified Clerk user: ``user_id`` is ``sub``, ``session_id`` is ``sid``."""

    user_id: str
    session_id: str | None
    claims: Mapping[str, Any] = field(repr=False, hash=False, compare=False)


class AuthError(Unauthorized):
    """A request could not be authenticated (401 ``unauthorized`` by default).

    ``message`` says why in a few words and never contains the token or a key.
    A :class:`credits_core.errors.CreditsError`, so the API translates it with the rest.
    """

    code = "unauthorized"
    http_status = 401

    def __init__(self, message: str, *, code: str | None = None, http_status: int | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        if http_status is not None:
            self.http_status = http_status


class AuthUnavailableError(AuthError):
    """Clerk's keys could not be obtained: 503 ``auth_unavailable``, not the caller's fault."""

    code = "auth_unavailable"
    http_status = 503


class ClerkConfigError(ConfigError, ValueError):
    """A bad ``CLERK_*`` variable; the message names it, never its value."""


@dataclass(frozen=True)
class _KeySet:
    keys: Mapping[str, RSAPublicKey]
    fetched_at: float  # time.monotonic() of the successful fetch


_EMPTY = _KeySet(MappingProxyType({}), float("-inf"))


class ClerkVerifier:
    """Verifies Clerk session JWTs; safe to share between threads.

    Rules: RS256 only; ``exp`` and ``sub`` required (``sub`` must pass the
    ledger's user-id rules, ``credits_core.keys.check_user``); ``nbf``
    and ``iat`` honoured; all time checks use ``leeway_s``; when
    ``authorized_parties`` is non-empty, ``azp`` must be present and listed
    (as clerk-sdk-python does; Clerk's JS SDK skips a missing ``azp``).

    JWKS mode: the key set is cached ``cache_ttl_s`` (300 s, as Clerk's SDK and
    PyJWKClient's default ``lifespan``). An unknown ``kid`` triggers at most one
    refetch per call, and forced refetches are at least ``refetch_interval_s``
    apart across all threads, so random kids cannot hammer Clerk (the
    ``cooldown_duration`` idea of PyJWKClient 2.15, jpadilla/pyjwt#1207/#1208).
    Concurrent callers share one in-flight fetch.

    Failure to fetch the JWKS (network error, timeout, non-200, unusable body)
    raises :class:`AuthUnavailableError` (503 ``auth_unavailable``): the token
    was not judged, so 401 would wrongly tell the client to sign in again.
    After a failure no fetch is attempted for ``refetch_interval_s``; keys from
    an expired cache are still used for up to ``stale_if_error_s`` while Clerk
    is unreachable.

    PyJWKClient itself is not used: it fetches with urllib under a lock held by
    every lookup, and it cannot take the injected ``httpx.Client``.
    """

    def __init__(
        self,
        *,
        jwt_key_pem: str | None = None,
        secret_key: str | None = None,
        jwks_url: str | None = None,
        authorized_parties: Collection[str] = (),
        leeway_s: int = 5,
        timeout_s: float = 5,
        http_client: httpx.Client | None = None,
        cache_ttl_s: float = 300.0,
        refetch_interval_s: float = 5.0,
        stale_if_error_s: float = 3600.0,
    ) -> None:
        if not jwt_key_pem and not secret_key:
            raise ValueError("ClerkVerifier needs jwt_key_pem or secret_key")
        if leeway_s < 0 or timeout_s <= 0 or cache_ttl_s <= 0:
            raise ValueError("leeway_s must be >= 0; timeout_s and cache_ttl_s > 0")
        if refetch_interval_s < 0 or stale_if_error_s < 0:
            raise ValueError("refetch_interval_s and stale_if_error_s must be >= 0")
        self._leeway = leeway_s
        self._parties = frozenset(p.strip().rstrip("/") for p in authorized_parties if p.strip())
        self._static_key: RSAPublicKey | None = None
        if jwt_key_pem:
            try:
                self._static_key = _load_pem(jwt_key_pem)
            except ValueError:
                raise ValueError("jwt_key_pem is not a valid PEM RSA public key") from None
        self._secret = None if self._static_key is not None else secret_key
        self._jwks_url = jwks_url or DEFAULT_JWKS_URL
        if self._secret is not None and urlparse(self._jwks_url).scheme not in ("http", "https"):
            raise ValueError("jwks_url must be an http(s) URL")
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

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ClerkVerifier | None:
        """Build from ``CLERK_*`` variables; ``None`` when neither key nor secret is set.

        ``CLERK_JWT_KEY`` wins over ``CLERK_SECRET_KEY`` (networkless). A bad
        value raises :class:`ClerkConfigError` (a ``ValueError`` and a
        ``ConfigError``) naming the variable, never its value.
        """
        pem = (environ.get("CLERK_JWT_KEY") or "").strip()
        secret = (environ.get("CLERK_SECRET_KEY") or "").strip()
        if not pem and not secret:
            return None
        url = (environ.get("CLERK_JWKS_URL") or "").strip() or DEFAULT_JWKS_URL
        if urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc:
            raise ClerkConfigError("CLERK_JWKS_URL must be an http(s) URL")
        parties = (environ.get("CLERK_AUTHORIZED_PARTIES") or "").split(",")
        if pem:
            try:
                _load_pem(pem)
            except ValueError:
                raise ClerkConfigError(
                    "CLERK_JWT_KEY is not a valid PEM RSA public key "
                    "(use 'PEM Public Key' from the Clerk Dashboard, API keys page)"
                ) from None
        return cls(
            jwt_key_pem=pem or None,
            secret_key=secret or None,
            jwks_url=url,
            authorized_parties=parties,
        )

    def close(self) -> None:
        """Close the HTTP client if this verifier created it."""
        with self._fetch_lock:
            if self._owns_client and self._client is not None:
                self._client.close()
                self._client = None
                self._owns_client = False

    def verify_authorization_header(self, header: str | None) -> Principal:
        """Verify ``Authorization: Bearer <jwt>`` (scheme case-insensitive)."""
        if header is None or not header.strip():
            raise AuthError("missing bearer token")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise AuthError("authorization scheme must be Bearer")
        token = token.strip()
        if not token:
            raise AuthError("missing bearer token")
        return self.verify(token)

    def verify(self, token: str) -> Principal:
        """Verify a raw session JWT and return its :class:`Principal`."""
        if not isinstance(token, str) or not token:
            raise AuthError("missing bearer token")
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthError("token is too large")
        if token.count(".") != 2 or any(c.isspace() for c in token):
            raise AuthError("malformed token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise AuthError("malformed token") from None
        alg = header.get("alg")
        if alg != ALGORITHM:
            raise AuthError("token is unsigned (alg none)" if _is_none(alg) else "token is not RS256")
        if header.get("typ", "JWT") != "JWT":
            raise AuthError("token type must be JWT")
        if "crit" in header:
            raise AuthError("token has unsupported critical headers")

        key = self._static_key
        if key is None:
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid:
                raise AuthError("token has no key id (kid)")
            key = self._key_for(kid)
        claims = self._decode(token, key)

        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub.strip():
            raise AuthError("token 'sub' must be a non-empty string")
        try:
            check_user(sub)  # the ledger's user-id rules (credits_core.keys)
        except InvalidKey:
            raise AuthError("token 'sub' is not a usable user id") from None
        if self._parties:
            azp = claims.get("azp")
            if not isinstance(azp, str) or not azp:
                raise AuthError("token has no 'azp' (authorized party)")
            if azp.rstrip("/") not in self._parties:
                raise AuthError("token 'azp' is not an authorized party")
        sid = claims.get("sid")
        return Principal(
            user_id=sub,
            session_id=sid if isinstance(sid, str) and sid else None,
            claims=MappingProxyType(claims),
        )

    # -- signature and claims -------------------------------------------------

    def _decode(self, token: str, key: RSAPublicKey) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                leeway=self._leeway,
                options={"require": ["exp", "sub"], "verify_aud": False, "verify_iss": False},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("token is not valid yet (nbf/iat in the future)") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"token is missing the '{exc.claim}' claim") from None
        except jwt.InvalidSignatureError:
            raise AuthError("invalid token signature") from None
        except jwt.InvalidAlgorithmError:
            raise AuthError("token is not RS256") from None
        except jwt.exceptions.InvalidSubjectError:
            raise AuthError("token 'sub' must be a non-empty string") from None
        except jwt.exceptions.InvalidIssuedAtError:
            raise AuthError("token 'iat' must be a number") from None
        except jwt.DecodeError:
            raise AuthError("malformed token") from None
        except jwt.InvalidTokenError:
            raise AuthError("invalid token") from None

    # -- JWKS cache -------------------------------------------------------------

    def _key_for(self, kid: str) -> RSAPublicKey:
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
                raise AuthError("unknown signing key")  # refetch budget spent
            if now < self._retry_after:
                return self._stale_or_raise(current, kid, now)  # failed moments ago
            if forced:
                self._next_forced = now + self._interval
            try:
                keys = self._fetch()
            except AuthUnavailableError as exc:
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
        raise AuthUnavailableError(self._last_failure)

    def _fetch(self) -> dict[str, RSAPublicKey]:
        """GET the JWKS with the secret key; raise AuthUnavailableError on any failure."""
        client = self._client
        if client is None:
            client = self._client = httpx.Client(timeout=self._timeout, follow_redirects=False)
            self._owns_client = True
        headers = {"Authorization": f"Bearer {self._secret}", "Accept": "application/json"}
        try:
            resp = client.get(self._jwks_url, headers=headers, timeout=self._timeout, follow_redirects=False)
        except httpx.TimeoutException:
            raise AuthUnavailableError("timed out fetching Clerk signing keys") from None
        except httpx.HTTPError as exc:
            name = type(exc).__name__
            raise AuthUnavailableError(f"could not reach Clerk JWKS ({name})") from None
        if resp.status_code in (401, 403):
            raise AuthUnavailableError(
                f"Clerk JWKS refused the secret key (HTTP {resp.status_code}); check CLERK_SECRET_KEY"
            )
        if resp.status_code != 200:
            raise AuthUnavailableError(f"Clerk JWKS answered HTTP {resp.status_code}")
        try:
            body = resp.json()
        except ValueError:
            raise AuthUnavailableError("Clerk JWKS answer is not JSON") from None
        keys = _parse_jwks(body)
        if not keys:
            raise AuthUnavailableError("Clerk JWKS has no usable RS256 signing keys")
        return keys


def _pick(keyset: _KeySet, kid: str) -> RSAPublicKey:
    key = keyset.keys.get(kid)
    if key is None:
        raise AuthError("unknown signing key")
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


def _load_pem(pem: str) -> RSAPublicKey:
    """Parse a PEM RSA public key; accepts escaped ``\\n`` and one-line PEMs."""
    text = pem.strip().replace("\\r", "").replace("\\n", "\n")
    try:
        key = load_pem_public_key(text.encode())
    except Exception:  # ValueError, TypeError, UnsupportedAlgorithm
        raise ValueError("not a valid PEM public key") from None
    if not isinstance(key, RSAPublicKey):
        raise ValueError("PEM key is not an RSA public key")
    return key


def _is_none(alg: Any) -> bool:
    return alg is None or (isinstance(alg, str) and alg.lower() == "none")
