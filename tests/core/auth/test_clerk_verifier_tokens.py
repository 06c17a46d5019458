"""ClerkVerifier against a local JWKS stand-in (no internet): which tokens and headers are accepted or rejected, authorized parties, and messages that never leak a token."""

from __future__ import annotations

import time

import pytest

from credits_core.auth import Principal
from credits_core.errors import AuthUnavailable, CreditsError, InvalidToken, Unauthorized
from tests.core.auth.conftest import jwks_verifier, pem_verifier, rejected

# -- accepted -------------------------------------------------------------------


def test_valid_token_via_pem_uses_no_network(clerk):
    v = pem_verifier(clerk)
    p = v.verify(clerk.mint("user_42", azp="https://app.example"))
    assert isinstance(p, Principal)
    assert p.user_id == "user_42"
    assert p.session_id and p.session_id.startswith("sess_")
    assert p.claims["azp"] == "https://app.example"
    with pytest.raises(TypeError):
        p.claims["sub"] = "someone_else"  # type: ignore[index]
    assert clerk.request_count == 0


def test_valid_token_via_jwks_is_cached(clerk):
    v = jwks_verifier(clerk)
    for _ in range(5):
        assert v.verify(clerk.mint("user_7")).user_id == "user_7"
    assert clerk.fetch_count == 1
    assert clerk.seen_authorization == [f"Bearer {clerk.secret_key}"]


def test_pem_mode_ignores_kid(clerk):
    v = pem_verifier(clerk)
    assert v.verify(clerk.mint(kid="some_other_kid")).user_id == "user_1"
    assert v.verify(clerk.mint(headers={"kid": None})).user_id == "user_1"


@pytest.mark.parametrize("header", ["Bearer {t}", "bearer {t}", "BEARER   {t}  ", " Bearer {t}"])
def test_authorization_header_accepted(clerk, header):
    v = pem_verifier(clerk)
    assert v.verify_authorization_header(header.format(t=clerk.mint())).user_id == "user_1"


def test_leeway_accepts_small_skew(verifier, clerk):
    assert verifier.verify(clerk.mint(nbf_in=3)).user_id == "user_1"
    assert verifier.verify(clerk.mint(exp_in=-2)).user_id == "user_1"
    assert verifier.verify(clerk.mint(extra={"iat": int(time.time()) + 3})).user_id == "user_1"


# -- rejected -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing bearer token"),
        ("", "missing bearer token"),
        ("   ", "missing bearer token"),
        ("Bearer", "missing bearer token"),
        ("Bearer   ", "missing bearer token"),
        ("Basic dXNlcjpwYXNz", "scheme must be Bearer"),
        ("Token abc.def.ghi", "scheme must be Bearer"),
    ],
)
def test_bad_authorization_header(clerk, header, reason):
    with pytest.raises(InvalidToken, match=reason) as info:
        pem_verifier(clerk).verify_authorization_header(header)
    assert info.value.http_status == 401


def test_non_bearer_scheme_with_valid_token(clerk):
    token = clerk.mint()
    with pytest.raises(InvalidToken, match="scheme must be Bearer") as info:
        pem_verifier(clerk).verify_authorization_header(f"JWT {token}")
    assert token not in str(info.value)


@pytest.mark.parametrize("garbage", ["garbage", "a.b.c", "..", "a.b", "x" * 20_000, "é.é.é"])
def test_garbage(verifier, garbage):
    err = rejected(verifier, garbage)
    assert "malformed" in err.message or "too large" in err.message


CASES = {
    "alg none": (lambda c: c.forge_alg_none(), "alg none"),
    "HS256 with public PEM": (lambda c: c.forge_hs256_with_public_pem(), "not RS256"),
    "HS256": (lambda c: c.mint(alg="HS256"), "not RS256"),
    "RS384": (lambda c: c.mint(alg="RS384"), "not RS256"),
    "PS256": (lambda c: c.mint(alg="PS256"), "not RS256"),
    "ES256": (lambda c: c.mint(alg="ES256"), "not RS256"),
    "expired": (lambda c: c.mint(exp_in=-60), "token expired"),
    "nbf in future": (lambda c: c.mint(nbf_in=60), "not valid yet"),
    "iat in future": (lambda c: c.mint(extra={"iat": int(time.time()) + 60}), "not valid yet"),
    "signed by another key": (lambda c: c.forge_other_key(), "invalid token signature"),
    "tampered payload": (lambda c: c.forge_tampered(), "invalid token signature"),
    "missing sub": (lambda c: c.mint(sub=None), "'sub'"),
    "empty sub": (lambda c: c.mint(sub=""), "'sub'"),
    "non-string sub": (lambda c: c.mint(extra={"sub": 123}), "'sub'"),
    "sub not a ledger user id": (lambda c: c.mint(sub="user|1"), "'sub'"),
    "missing exp": (lambda c: c.mint(exp_in=None), "'exp'"),
    "typ not JWT": (lambda c: c.mint(headers={"typ": "at+jwt"}), "type must be JWT"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_rejected(verifier, clerk, case):
    make, reason = CASES[case]
    token = make(clerk)
    err = rejected(verifier, token)
    assert reason in err.message
    with pytest.raises(InvalidToken):
        verifier.verify_authorization_header(f"Bearer {token}")


def test_errors_join_the_credits_hierarchy(clerk):
    err = rejected(pem_verifier(clerk), clerk.mint(exp_in=-60))
    assert isinstance(err, Unauthorized) and isinstance(err, CreditsError)
    assert err.to_dict() == {"code": "unauthorized", "message": "token expired"}
    down = AuthUnavailable("x")
    assert not isinstance(down, Unauthorized), "Clerk being down is not the caller's 401"
    assert (down.code, down.http_status) == ("auth_unavailable", 503)


def test_unknown_kid(clerk):
    err = rejected(jwks_verifier(clerk), clerk.mint(kid="ins_nope"))
    assert err.message == "unknown signing key"


def test_missing_kid_in_jwks_mode(clerk):
    err = rejected(jwks_verifier(clerk), clerk.mint(headers={"kid": None}))
    assert "kid" in err.message


# -- authorized parties ------------------------------------------------------------


def test_authorized_parties(clerk):
    v = pem_verifier(clerk, authorized_parties=["https://app.example", "http://localhost:8501/"])
    assert v.verify(clerk.mint(azp="https://app.example")).user_id == "user_1"
    assert v.verify(clerk.mint(azp="http://localhost:8501")).user_id == "user_1"
    assert "not an authorized party" in rejected(v, clerk.mint(azp="https://evil.example")).message
    assert "no 'azp'" in rejected(v, clerk.mint()).message
    assert "no 'azp'" in rejected(v, clerk.mint(extra={"azp": ""})).message
    # Without parties configured azp is not checked.
    assert pem_verifier(clerk).verify(clerk.mint(azp="https://evil.example")).user_id == "user_1"


# -- what a refusal says ----------------------------------------------------------


def test_messages_never_contain_token_or_secret(clerk):
    v = jwks_verifier(clerk, authorized_parties=["https://app.example"])
    tokens = [make(clerk) for make, _ in CASES.values()]
    tokens += [clerk.mint(kid="ins_x"), clerk.mint(azp="https://evil.example"), clerk.mint()]
    for token in tokens:
        with pytest.raises(InvalidToken) as info:
            v.verify_authorization_header(f"Bearer {token}")
        text = f"{info.value} {info.value!r} {info.value.message}"
        for part in token.split("."):
            if len(part) > 8:
                assert part not in text
        assert clerk.secret_key not in text
        assert clerk.public_pem().splitlines()[1] not in text
