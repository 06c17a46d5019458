"""A minimal local OpenID Connect provider for ``st.login`` in browser tests.

It plays the part Clerk (or any OIDC provider) plays in production: Streamlit's
``st.login`` (Authlib's Starlette client under ``st.App``) discovers it, sends
the browser to ``/authorize``, exchanges the code at ``/token`` and validates
the RS256 ``id_token`` against ``/jwks``; the ``sub`` claim becomes the app's
user id. Only the authorization-code flow is implemented, as OpenID Connect
Core 1.0 describes it (https://openid.net/specs/openid-connect-core-1_0.html):

* ``GET /.well-known/openid-configuration`` — the discovery document
  (https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderMetadata);
* ``GET /authorize`` — checks ``response_type=code``, ``client_id``,
  ``redirect_uri`` and the ``openid`` scope, auto-approves the configured test
  user (no login form) and 302-redirects to ``redirect_uri`` with ``code`` and
  ``state``; keeps ``nonce`` and the PKCE ``code_challenge`` with the code;
  a bad request with a usable ``redirect_uri`` is redirected back with
  ``error=…`` (§3.1.2.6), otherwise it is a 400 page;
* ``POST /token`` — client authentication by ``client_secret_basic`` (Authlib's
  default) or ``client_secret_post``; the code is single-use, short-lived and
  bound to its ``redirect_uri`` and PKCE verifier; answers ``access_token``,
  ``token_type``, ``expires_in``, ``scope`` and an ``id_token`` (RS256, ``kid``;
  claims ``iss``, ``sub``, ``aud`` = client id, ``exp``, ``iat``, ``auth_time``,
  ``nonce``, ``at_hash``, ``email``, ``email_verified``, ``name``); errors as
  ``{"error": …, "error_description": …}`` (RFC 6749 §5.2);
* ``GET /jwks`` — the public key as a JWK set;
* ``GET /userinfo`` — the user's claims for a Bearer access token;
* ``GET /logout`` — an ``end_session_endpoint`` that redirects to
  ``post_logout_redirect_uri`` (what ``st.logout`` follows).

Binds 127.0.0.1 on a free port, serves in a daemon thread and stops itself
after ``lifetime_s``. :meth:`OidcStandIn.auth_secrets` gives the ``[auth]``
section of ``secrets.toml`` that points ``st.login`` at it.

    with OidcStandIn(user=OidcUser("user_e2e", "e2e@example.com", "E2E Buyer")) as idp:
        Path(tmp, "secrets.toml").write_text(idp.secrets_toml("http://127.0.0.1:{port}/oauth2callback"))
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import jwt

from .clerk_jwks import rsa_key
from .loopback import LoopbackServer

CODE_LIFETIME_S = 60
TOKEN_LIFETIME_S = 3600


@dataclass(frozen=True)
class OidcUser:
    """The account ``/authorize`` approves; ``sub`` becomes the app's user id."""

    sub: str = "user_oidc_e2e"
    email: str = "e2e.buyer@example.com"
    name: str = "E2E Buyer"

    def claims(self) -> dict[str, Any]:
        return {"sub": self.sub, "email": self.email, "email_verified": True, "name": self.name}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


class OidcStandIn:
    """An OIDC provider on 127.0.0.1; a context manager, or ``start()`` / ``stop()``."""

    def __init__(
        self,
        *,
        user: OidcUser | None = None,
        client_id: str = "cz-e2e-client",
        client_secret: str | None = None,
        lifetime_s: float = 900,
    ) -> None:
        self.user = user or OidcUser()
        self.client_id = client_id
        self.client_secret = client_secret or "oidc-secret-" + secrets.token_hex(12)
        self.lifetime_s = lifetime_s
        self.key = rsa_key("oidc-standin")
        self.kid = (
            "oidc-standin-" + hashlib.sha256(str(self.key.public_key().public_numbers().n).encode()).hexdigest()[:12]
        )
        self._lock = threading.Lock()
        self._codes: dict[str, dict[str, Any]] = {}
        self._tokens: dict[str, dict[str, Any]] = {}
        self._log: list[dict[str, Any]] = []
        self._server: LoopbackServer | None = None

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL and issuer, e.g. ``http://127.0.0.1:54321``."""
        if self._server is None:
            raise RuntimeError("OidcStandIn is not started")
        return self._server.url

    issuer = url

    @property
    def server_metadata_url(self) -> str:
        """The discovery document's URL (``server_metadata_url`` in ``[auth]``)."""
        return self.url + "/.well-known/openid-configuration"

    def start(self) -> Self:
        if self._server is not None:
            return self
        handler = type("_BoundOidcHandler", (_Handler,), {"idp": self})
        self._server = LoopbackServer(handler, name="oidc-standin", lifetime_s=self.lifetime_s)
        return self

    def stop(self) -> None:
        """Stop serving and free the port; safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- configuration for the app -------------------------------------------------------

    def auth_secrets(self, redirect_uri: str, cookie_secret: str | None = None) -> dict[str, str]:
        """The flat ``[auth]`` section for ``st.login()`` (``{port}`` in ``redirect_uri`` is allowed)."""
        return {
            "redirect_uri": redirect_uri,
            "cookie_secret": cookie_secret or secrets.token_hex(24),
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "server_metadata_url": self.server_metadata_url,
        }

    def secrets_toml(self, redirect_uri: str, cookie_secret: str | None = None) -> str:
        """``secrets.toml`` text holding :meth:`auth_secrets` (values JSON-quoted, valid TOML)."""
        lines = ["[auth]"] + [
            f"{k} = {json.dumps(v)}" for k, v in self.auth_secrets(redirect_uri, cookie_secret).items()
        ]
        return "\n".join(lines) + "\n"

    # -- test controls ---------------------------------------------------------------------

    def set_user(self, user: OidcUser) -> None:
        """Approve ``user`` from the next ``/authorize`` on."""
        self.user = user

    def requests(self) -> list[dict[str, Any]]:
        """What was asked: method, path, status (and error codes)."""
        with self._lock:
            return [dict(r) for r in self._log]

    def metadata(self) -> dict[str, Any]:
        base = self.url
        return {
            "issuer": base,
            "authorization_endpoint": base + "/authorize",
            "token_endpoint": base + "/token",
            "userinfo_endpoint": base + "/userinfo",
            "jwks_uri": base + "/jwks",
            "end_session_endpoint": base + "/logout",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "email",
                "email_verified",
                "name",
            ],
            "code_challenge_methods_supported": ["S256", "plain"],
        }

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    # -- endpoints ---------------------------------------------------------------------------

    def _authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != self.client_id:
            return 400, {}, _page("Unknown client", "client_id is missing or not registered.")
        if not redirect_uri.startswith(("http://", "https://")):
            return 400, {}, _page("Bad request", "redirect_uri must be an absolute http(s) URL.")
        state = query.get("state")
        error = None
        if query.get("response_type") != "code":
            error = ("unsupported_response_type", "only response_type=code is supported")
        elif "openid" not in query.get("scope", "").split():
            error = ("invalid_scope", "the openid scope is required")
        elif query.get("code_challenge_method", "plain" if query.get("code_challenge") else "") not in (
            "",
            "S256",
            "plain",
        ):
            error = ("invalid_request", "unsupported code_challenge_method")
        if error is not None:
            params = {"error": error[0], "error_description": error[1], **({"state": state} if state else {})}
            return 302, {"Location": _with_query(redirect_uri, params)}, error[0]
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = {
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "nonce": query.get("nonce"),
                "scope": query.get("scope", ""),
                "challenge": query.get("code_challenge"),
                "method": query.get("code_challenge_method") or "plain",
                "user": self.user,
                "expires": time.time() + CODE_LIFETIME_S,
                "auth_time": int(time.time()),
            }
        params = {"code": code, **({"state": state} if state else {})}
        return 302, {"Location": _with_query(redirect_uri, params)}, None

    def _client_ok(self, headers: Any, form: dict[str, str]) -> bool:
        auth = headers.get("Authorization") or ""
        if auth.startswith("Basic "):
            try:
                raw = base64.b64decode(auth[6:].strip()).decode()
            except ValueError:
                return False
            cid, _, secret = raw.partition(":")
            cid, secret = unquote(cid), unquote(secret)
        else:
            cid, secret = form.get("client_id", ""), form.get("client_secret", "")
        return hmac.compare_digest(cid.encode(), self.client_id.encode()) and hmac.compare_digest(
            secret.encode(), self.client_secret.encode()
        )

    def _token(self, headers: Any, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if not self._client_ok(headers, form):
            return 401, _oauth_error("invalid_client", "client authentication failed")
        if form.get("grant_type") != "authorization_code":
            return 400, _oauth_error("unsupported_grant_type", "only authorization_code is supported")
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)  # single use, even when refused below
        if grant is None or grant["expires"] < time.time():
            return 400, _oauth_error("invalid_grant", "the code is unknown, used or expired")
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, _oauth_error("invalid_grant", "redirect_uri does not match the authorization request")
        if grant["challenge"]:
            verifier = form.get("code_verifier", "")
            derived = _b64(hashlib.sha256(verifier.encode()).digest()) if grant["method"] == "S256" else verifier
            if not verifier or not hmac.compare_digest(derived, grant["challenge"]):
                return 400, _oauth_error("invalid_grant", "PKCE verification failed")
        user: OidcUser = grant["user"]
        access_token = secrets.token_urlsafe(32)
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": self.client_id,
            "iat": now,
            "exp": now + TOKEN_LIFETIME_S,
            "auth_time": grant["auth_time"],
            "at_hash": _b64(hashlib.sha256(access_token.encode()).digest()[:16]),
            **user.claims(),
        }
        if grant["nonce"]:
            claims["nonce"] = grant["nonce"]
        id_token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"})
        with self._lock:
            self._tokens[access_token] = {"user": user, "expires": now + TOKEN_LIFETIME_S}
        return 200, {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_S,
            "scope": grant["scope"],
            "id_token": id_token,
        }

    def _userinfo(self, headers: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        auth = headers.get("Authorization") or ""
        token = auth[7:].strip() if auth.startswith("Bearer ") else ""
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None or entry["expires"] < time.time():
            challenge = 'Bearer error="invalid_token"'
            return (
                401,
                _oauth_error("invalid_token", "unknown or expired access token"),
                {"WWW-Authenticate": challenge},
            )
        return 200, entry["user"].claims(), {}

    def _record(self, method: str, path: str, status: int, error: str | None = None) -> None:
        with self._lock:
            self._log.append({"method": method, "path": path, "status": status, "error": error})


def _oauth_error(code: str, description: str) -> dict[str, str]:
    return {"error": code, "error_description": description}


def _page(title: str, text: str) -> bytes:
    return f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{text}</p>".encode()


class _Handler(BaseHTTPRequestHandler):
    idp: OidcStandIn
    server_version = "oidc-standin/1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        extra = {"Cache-Control": "no-store", "Pragma": "no-cache", **(headers or {})}
        self._send(status, json.dumps(obj).encode(), {"Content-Type": "application/json", **extra})

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        idp, path = self.idp, parts.path
        status, err = 200, None
        if path == "/.well-known/openid-configuration":
            self._json(200, idp.metadata())
        elif path == "/jwks":
            self._json(200, idp.jwks())
        elif path == "/authorize":
            status, headers, detail = idp._authorize(query)
            if status == 302:
                self._send(302, b"", headers)
                err = detail
            else:
                self._send(status, detail, {"Content-Type": "text/html; charset=utf-8"})
                err = "bad_request"
        elif path == "/userinfo":
            status, body, headers = idp._userinfo(self.headers)
            self._json(status, body, headers)
        elif path == "/logout":
            target = query.get("post_logout_redirect_uri", "")
            if target.startswith(("http://", "https://")):
                status = 302
                self._send(302, b"", {"Location": target})
            else:
                self._send(
                    200, _page("Signed out", "You are signed out."), {"Content-Type": "text/html; charset=utf-8"}
                )
        else:
            status = 404
            self._json(404, {"error": "not_found"})
        idp._record("GET", path, status, err)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace") if n else ""
        if path != "/token":
            self._json(404, {"error": "not_found"})
            return
        status, answer = self.idp._token(self.headers, dict(parse_qsl(body, keep_blank_values=True)))
        self._json(status, answer, {"WWW-Authenticate": "Basic"} if status == 401 else None)
        self.idp._record("POST", path, status, answer.get("error"))
