"""Verify Clerk session tokens (RS256 JWTs): the claim rules; keys come from a ``KeySource``.

Claim checks follow Clerk's session-token docs
(https://clerk.com/docs/guides/sessions/session-tokens: ``sub`` user id, ``sid``
session id, ``azp`` origin, ``exp``/``nbf``/``iat`` unix times, ``iss`` the
Frontend API URL) and ``verifyJwt``/``assertions.ts`` in clerk/javascript: 5 s
default clock skew, ``typ`` must be ``JWT`` when present, ``aud`` is not used
(Clerk puts the origin in ``azp``), ``iss`` is not checked.

No Streamlit import: the HTTP layer and the pages share this module.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from credits_core.config import Settings
from credits_core.errors import InvalidKey, InvalidToken
from credits_core.keys import check_user

from .keys import ALGORITHM, DEFAULT_JWKS_URL, JwksKeySource, KeySource, PemKeySource

# Clerk session tokens are ~1-2 KB; anything far larger is refused before parsing.
MAX_TOKEN_CHARS = 16_384


@dataclass(frozen=True)
class Principal:
    """A verified Clerk user: ``user_id`` is ``sub``, ``session_id`` is ``sid``."""

    user_id: str
    session_id: str | None
    claims: Mapping[str, Any] = field(repr=False, hash=False, compare=False)


class ClerkVerifier:
    """Verifies Clerk session JWTs; safe to share between threads.

    Rules: RS256 only; ``exp`` and ``sub`` required (``sub`` must pass the
    ledger's user-id rules, ``credits_core.keys.check_user``); ``nbf``
    and ``iat`` honoured; all time checks use ``leeway_s``; when
    ``authorized_parties`` is non-empty, ``azp`` must be present and listed
    (as clerk-sdk-python does; Clerk's JS SDK skips a missing ``azp``).
    Keys: ``jwt_key_pem`` (networkless, wins) or the JWKS fetched with
    ``secret_key`` (see :mod:`credits_core.auth.keys`), or any ``keys`` source.
    """

    def __init__(
        self,
        *,
        jwt_key_pem: str | None = None,
        secret_key: str | None = None,
        jwks_url: str | None = None,
        authorized_parties: Collection[str] = (),
        leeway_s: int = 5,
        keys: KeySource | None = None,
        http_client: httpx.Client | None = None,
        **jwks_options: float,
    ) -> None:
        if leeway_s < 0:
            raise ValueError("leeway_s must be >= 0")
        if keys is None:
            if jwt_key_pem:
                try:
                    keys = PemKeySource(jwt_key_pem)
                except ValueError:
                    raise ValueError("jwt_key_pem is not a valid PEM RSA public key") from None
            elif secret_key:
                keys = JwksKeySource(secret_key, jwks_url or DEFAULT_JWKS_URL, http_client=http_client, **jwks_options)
            else:
                raise ValueError("ClerkVerifier needs jwt_key_pem or secret_key")
        self._keys = keys
        self._leeway = leeway_s
        self._parties = frozenset(p.strip().rstrip("/") for p in authorized_parties if p.strip())

    @classmethod
    def from_settings(cls, settings: Settings) -> ClerkVerifier | None:
        """The verifier of the ``CLERK_*`` settings; ``None`` when neither key nor secret is set."""
        if not settings.clerk_jwt_key and not settings.clerk_secret_key:
            return None
        return cls(
            jwt_key_pem=settings.clerk_jwt_key,
            secret_key=settings.clerk_secret_key,
            jwks_url=settings.clerk_jwks_url,
            authorized_parties=settings.clerk_authorized_parties,
        )

    def close(self) -> None:
        """Close the key source's HTTP client, if it made one."""
        self._keys.close()

    def verify_authorization_header(self, header: str | None) -> Principal:
        """Verify ``Authorization: Bearer <jwt>`` (scheme case-insensitive)."""
        if header is None or not header.strip():
            raise InvalidToken("missing bearer token")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise InvalidToken("authorization scheme must be Bearer")
        token = token.strip()
        if not token:
            raise InvalidToken("missing bearer token")
        return self.verify(token)

    def verify(self, token: str) -> Principal:
        """Verify a raw session JWT and return its :class:`Principal`."""
        if not isinstance(token, str) or not token:
            raise InvalidToken("missing bearer token")
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken("token is too large")
        if token.count(".") != 2 or any(c.isspace() for c in token):
            raise InvalidToken("malformed token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise InvalidToken("malformed token") from None
        alg = header.get("alg")
        if alg != ALGORITHM:
            raise InvalidToken("token is unsigned (alg none)" if _is_none(alg) else "token is not RS256")
        if header.get("typ", "JWT") != "JWT":
            raise InvalidToken("token type must be JWT")
        if "crit" in header:
            raise InvalidToken("token has unsupported critical headers")

        key = self._keys.key_for(header.get("kid"))
        claims = self._decode(token, key)

        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub.strip():
            raise InvalidToken("token 'sub' must be a non-empty string")
        try:
            check_user(sub)  # the ledger's user-id rules (credits_core.keys)
        except InvalidKey:
            raise InvalidToken("token 'sub' is not a usable user id") from None
        if self._parties:
            azp = claims.get("azp")
            if not isinstance(azp, str) or not azp:
                raise InvalidToken("token has no 'azp' (authorized party)")
            if azp.rstrip("/") not in self._parties:
                raise InvalidToken("token 'azp' is not an authorized party")
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
            raise InvalidToken("token expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("token is not valid yet (nbf/iat in the future)") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"token is missing the '{exc.claim}' claim") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("invalid token signature") from None
        except jwt.InvalidAlgorithmError:
            raise InvalidToken("token is not RS256") from None
        except jwt.exceptions.InvalidSubjectError:
            raise InvalidToken("token 'sub' must be a non-empty string") from None
        except jwt.exceptions.InvalidIssuedAtError:
            raise InvalidToken("token 'iat' must be a number") from None
        except jwt.DecodeError:
            raise InvalidToken("malformed token") from None
        except jwt.InvalidTokenError:
            raise InvalidToken("invalid token") from None


def _is_none(alg: Any) -> bool:
    return alg is None or (isinstance(alg, str) and alg.lower() == "none")
