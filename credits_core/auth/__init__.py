"""Authentication of API callers: Clerk session tokens (claims in ``verifier``, keys in ``keys``)."""

from credits_core.auth.keys import DEFAULT_JWKS_URL, JwksKeySource, KeySource, PemKeySource
from credits_core.auth.verifier import ClerkVerifier, Principal

__all__ = [
    "DEFAULT_JWKS_URL",
    "ClerkVerifier",
    "JwksKeySource",
    "KeySource",
    "PemKeySource",
    "Principal",
]
