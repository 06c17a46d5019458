"""Who is calling: a Clerk session token (Bearer) or the registry admin header.

Bearer routes: ``Authorization: Bearer <Clerk session JWT>`` verified by
``credits_core.auth.ClerkVerifier`` (RS256 only, keys from ``CLERK_JWT_KEY`` or
the JWKS; Clerk, "Manual JWT verification",
https://clerk.com/docs/guides/sessions/manual-jwt-verification). A missing or
bad token is 401 with ``WWW-Authenticate: Bearer``. When neither
``CLERK_JWT_KEY`` nor ``CLERK_SECRET_KEY`` is set, every Bearer route answers
503 ``auth_not_configured``: the server cannot judge any token, and a 401
would wrongly tell a client with a good token to sign in again. Clerk's JWKS
being unreachable is 503 ``auth_unavailable`` for the same reason.

Admin routes: header ``x-cz-registry-admin`` compared with
``CZ_REGISTRY_ADMIN_SECRET`` by ``hmac.compare_digest``. Missing or wrong
header → 403 ``forbidden`` (the header is not an HTTP authentication scheme,
so there is no challenge a 401 could carry; 401 stays reserved for "get a new
Clerk token"). When the secret is unset at start-up, the admin-only routes are
not mounted at all (404 for every method, absent from the OpenAPI document);
``credits-refund`` and the support option of ``credits-state?userId=`` answer
403 "admin access is disabled".

Verified tokens are remembered (``TokenCache``) until their ``exp``, at most
30 s: a client reuses its Clerk session token (60 s lifetime) for many
requests, and PyJWT's parsing costs several times the RSA check itself. A
cache hit is answered on the event loop; a miss is verified in the
threadpool, so a JWKS fetch (network) never blocks the loop (FastAPI,
"Concurrency and async / await", https://fastapi.tiangolo.com/async/).
"""

from __future__ import annotations

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from credits_core.access import ADMIN_HEADER, check_admin_secret, is_admin_user
from credits_core.auth import Principal
from credits_core.errors import AuthNotConfigured

from .context import api_context, settings
from .token_cache import TokenCache

bearer_scheme = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    scheme_name="ClerkSession",
    description="A Clerk session token (RS256 JWT); the user id is its `sub` claim.",
)
admin_scheme = APIKeyHeader(
    name=ADMIN_HEADER,
    auto_error=False,
    scheme_name="RegistryAdmin",
    description="`CZ_REGISTRY_ADMIN_SECRET` (support and trusted services). Routes using only this "
    "scheme answer 404 when the secret is not configured.",
)


def _verifier(request: Request) -> TokenCache:
    verifier = api_context(request).verifier
    if verifier is None:
        raise AuthNotConfigured(
            "authentication is not configured on this server (set CLERK_JWT_KEY or CLERK_SECRET_KEY)"
        )
    return verifier


def user_of(request: Request) -> Principal:
    """The verified Clerk user of ``request`` (blocking: may fetch the JWKS)."""
    # The raw header, so the verifier can say precisely what is wrong with it.
    return _verifier(request).verify_authorization_header(request.headers.get("authorization"))


async def current_user(
    request: Request,
    _credentials: HTTPAuthorizationCredentials | None = Security(bearer_scheme),
) -> Principal:
    """Dependency: the verified Clerk user (401 / 503 otherwise); see module docstring."""
    verifier = _verifier(request)
    header = request.headers.get("authorization")
    principal = verifier.cached(header)
    if principal is not None:
        return principal
    return await run_in_threadpool(verifier.verify_authorization_header, header)


def admin_enabled() -> bool:
    """True when ``CZ_REGISTRY_ADMIN_SECRET`` is configured."""
    return settings().registry_admin_secret is not None


def check_admin_header(value: str | None) -> None:
    """403 unless ``value`` equals the admin secret (constant-time); the secret must be set."""
    check_admin_secret(settings(), value)


def check_admin(request: Request, header_value: str | None) -> None:
    """Support routes: the admin header, or a valid token of a ``CZ_ADMIN_USERS`` user (one rule, ``credits_core.access``).

    A credential that is sent must be valid, even where the other one is what counts.
    """
    if header_value is not None or request.headers.get("authorization") is None:
        check_admin_header(header_value)
        if request.headers.get("authorization") is not None:
            user_of(request)
        return
    principal = user_of(request)
    email = principal.claims.get("email")
    if not is_admin_user(settings(), principal.user_id, email if isinstance(email, str) else None):
        check_admin_header(None)  # the usual "needs the header" answer


def require_admin(key: str | None = Security(admin_scheme)) -> None:
    """Dependency of admin-only routes: 404 when disabled, 403 on a missing/wrong header."""
    if not admin_enabled():
        raise HTTPException(404)  # shaped exactly like an unknown route by errors._http_error
    check_admin_header(key)
