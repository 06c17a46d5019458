"""A local stand-in for Clerk's Backend API JWKS endpoint, plus token minting.

Serves ``GET /v1/jwks`` on 127.0.0.1 (port 0) and answers 401 unless the request
carries ``Authorization: Bearer <secret_key>``, like ``https://api.clerk.com/v1/jwks``.
Tokens carry Clerk's default session claims (``sub``, ``sid``, ``azp``, ``iss``,
``iat``, ``nbf``, ``exp``, ``v``). The server stops itself after ``lifetime_s``.

    with ClerkStandIn() as clerk:
        verifier = ClerkVerifier(secret_key=clerk.secret_key, jwks_url=clerk.url)
        verifier.verify(clerk.mint("user_1"))
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from functools import cache
from http.server import BaseHTTPRequestHandler
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .loopback import LoopbackServer

ISSUER = "https://clerk.standin.test"


@cache
def rsa_key(slot: Any) -> rsa.RSAPrivateKey:
    """A 2048-bit RSA key per ``slot``, generated once per process (tests stay fast)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@cache
def ec_key(slot: Any = 0) -> ec.EllipticCurvePrivateKey:
    """A P-256 key for ES256 forgeries."""
    return ec.generate_private_key(ec.SECP256R1())


def pem_of(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> str:
    """SubjectPublicKeyInfo PEM of a key's public half (what Clerk shows as 'PEM Public Key')."""
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64json(obj: Any) -> str:
    return _b64(json.dumps(obj, separators=(",", ":")).encode())


class ClerkStandIn:
    """JWKS server and token factory. Thread-safe; use as a context manager or call ``stop()``."""

    def __init__(self, lifetime_s: float = 900, *, path: str = "/v1/jwks") -> None:
        self.secret_key = "sk_test_" + secrets.token_hex(16)
        self.fetch_count = 0  # successful JWKS answers
        self.request_count = 0  # every request, authorised or not
        self.fail_status: int | None = None  # answer this status instead of the JWKS
        self.seen_authorization: list[str | None] = []
        self._lock = threading.Lock()
        self._slots = 0
        self._served: dict[str, rsa.RSAPrivateKey] = {}
        self.kid = ""
        self.key: rsa.RSAPrivateKey
        self.rotate()

        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                standin._handle(self, path)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = LoopbackServer(Handler, name="clerk-jwks", lifetime_s=lifetime_s, poll_interval=0.01)
        self.url = f"{self._server.url}{path}"

    # -- server -------------------------------------------------------------------

    def _handle(self, req: BaseHTTPRequestHandler, path: str) -> None:
        with self._lock:
            self.request_count += 1
            self.seen_authorization.append(req.headers.get("Authorization"))
        if req.path.split("?")[0] != path:
            return self._send(req, 404, {"errors": [{"code": "resource_not_found"}]})
        if req.headers.get("Authorization") != f"Bearer {self.secret_key}":
            body = {"errors": [{"code": "authentication_invalid", "message": "invalid key"}]}
            return self._send(req, 401, body)
        if self.fail_status is not None:
            return self._send(req, self.fail_status, {"errors": [{"code": "internal"}]})
        with self._lock:
            self.fetch_count += 1
        return self._send(req, 200, self.jwks())

    @staticmethod
    def _send(req: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    def stop(self) -> None:
        """Stop serving; later fetches fail with connection refused."""
        self._server.stop()

    def __enter__(self) -> ClerkStandIn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- keys ---------------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        """The JWKS as Clerk serves it (RSA, use sig, alg RS256, kid)."""
        with self._lock:
            served = dict(self._served)
        keys = []
        for kid, key in served.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            keys.append({"use": "sig", "kty": "RSA", "kid": kid, "alg": "RS256", **jwk})
        return {"keys": keys}

    def rotate(self, *, keep_old: bool = True) -> str:
        """Sign with a new key and kid from now on; serve the old one too unless ``keep_old=False``."""
        with self._lock:
            slot = self._slots
            self._slots += 1
            key = rsa_key(slot)
            kid = f"ins_standin_{slot}_{secrets.token_hex(3)}"
            if not keep_old:
                self._served.clear()
            self._served[kid] = key
            self.kid, self.key = kid, key
        return kid

    def retire(self, kid: str) -> None:
        """Stop serving ``kid``."""
        with self._lock:
            self._served.pop(kid, None)

    def public_pem(self, kid: str | None = None) -> str:
        """PEM public key of the current (or given) key, for ``CLERK_JWT_KEY``."""
        with self._lock:
            key = self.key if kid is None else self._served[kid]
        return pem_of(key)

    # -- tokens -------------------------------------------------------------------

    def claims(
        self,
        sub: str | None = "user_1",
        *,
        exp_in: float | None = 600,
        nbf_in: float | None = None,
        azp: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Clerk-shaped claims; a ``None`` value in ``extra`` removes that claim."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sid": "sess_" + secrets.token_hex(8),
            "iat": now,
            "nbf": now + int(nbf_in) if nbf_in is not None else now - 5,
            "v": 2,
        }
        if sub is not None:
            claims["sub"] = sub
        if exp_in is not None:
            claims["exp"] = now + int(exp_in)
        if azp is not None:
            claims["azp"] = azp
        for name, value in (extra or {}).items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def mint(
        self,
        sub: str | None = "user_1",
        *,
        kid: str | None = None,
        exp_in: float | None = 600,
        nbf_in: float | None = None,
        azp: str | None = None,
        alg: str = "RS256",
        key: Any = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
    ) -> str:
        """A signed session token (default: current key and kid).

        A ``None`` value in ``headers`` removes that header (``headers={"kid": None}``).
        """
        payload = self.claims(sub, exp_in=exp_in, nbf_in=nbf_in, azp=azp, extra=extra)
        hdr: dict[str, Any] = {"typ": "JWT"}
        hdr["kid"] = self.kid if kid is None else kid
        hdr.update(headers or {})
        hdr = {name: value for name, value in hdr.items() if value is not None}
        if key is None:
            if alg.startswith(("RS", "PS")):
                key = self.key
            elif alg.startswith("ES"):
                key = ec_key()
            else:
                key = "a-shared-secret-of-at-least-32-bytes!!"
        return jwt.encode(payload, key, algorithm=alg, headers=hdr)

    # -- forgeries ----------------------------------------------------------------

    def forge_alg_none(self, sub: str = "user_1", **kw: Any) -> str:
        """Unsigned token (``alg: none``, empty signature)."""
        header = {"alg": "none", "typ": "JWT", "kid": self.kid}
        return f"{_b64json(header)}.{_b64json(self.claims(sub, **kw))}."

    def forge_hs256_with_public_pem(self, sub: str = "user_1", **kw: Any) -> str:
        """HS256 token whose HMAC secret is the public PEM (the classic key-confusion attack)."""
        header = {"alg": "HS256", "typ": "JWT", "kid": self.kid}
        signing_input = f"{_b64json(header)}.{_b64json(self.claims(sub, **kw))}"
        mac = hmac.new(self.public_pem().encode(), signing_input.encode(), hashlib.sha256)
        return f"{signing_input}.{_b64(mac.digest())}"

    def forge_other_key(self, sub: str = "user_1", **kw: Any) -> str:
        """RS256 token with the current kid but signed by a key Clerk never published."""
        return self.mint(sub, key=rsa_key("foreign"), **kw)

    def forge_tampered(self, sub: str = "user_1", new_sub: str = "user_admin") -> str:
        """A valid token whose payload was changed after signing (signature kept)."""
        header, payload, signature = self.mint(sub).split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["sub"] = new_sub
        return f"{header}.{_b64json(claims)}.{signature}"
