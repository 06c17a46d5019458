"""Fixtures of the ClerkVerifier tests: a local JWKS stand-in (no internet) and verifiers on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from credits_core.auth import ClerkVerifier
from credits_core.errors import InvalidToken
from tests.standins.clerk_jwks import ClerkStandIn


@pytest.fixture
def clerk() -> Iterator[ClerkStandIn]:
    with ClerkStandIn(lifetime_s=60) as standin:
        yield standin


def jwks_verifier(clerk: ClerkStandIn, **kw) -> ClerkVerifier:
    return ClerkVerifier(secret_key=clerk.secret_key, jwks_url=clerk.url, timeout_s=2, **kw)


def pem_verifier(clerk: ClerkStandIn, **kw) -> ClerkVerifier:
    return ClerkVerifier(jwt_key_pem=clerk.public_pem(), **kw)


@pytest.fixture(params=["pem", "jwks"])
def verifier(request, clerk) -> ClerkVerifier:
    make = pem_verifier if request.param == "pem" else jwks_verifier
    return make(clerk)


def rejected(verifier: ClerkVerifier, token: str) -> InvalidToken:
    with pytest.raises(InvalidToken) as info:
        verifier.verify(token)
    err = info.value
    assert (err.code, err.http_status) == ("unauthorized", 401)
    assert token not in str(err)
    return err
