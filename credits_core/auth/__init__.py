"""Authentication of API callers (Clerk session tokens)."""

from credits_core.auth.clerk import (
    DEFAULT_JWKS_URL,
    AuthError,
    AuthUnavailableError,
    ClerkConfigError,
    ClerkVerifier,
    Principal,
)

__all__ = [
    "DEFAULT_JWKS_URL",
    "AuthError",
    "AuthUnavailableError",
    "ClerkConfigError",
    "ClerkVerifier",
    "Principal",
]
