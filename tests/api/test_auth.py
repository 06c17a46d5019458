"""Clerk session tokens over HTTP: what is accepted, what is 401, rotation, PEM mode."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.api.conftest import AZP, Api, uid
from tests.standins.clerk_jwks import ClerkStandIn, rsa_key

BEARER_ROUTES = [
    ("GET", "/api/credits-state", None),
    ("POST", "/api/credits-debit", {"tool": "ask_ai", "idempotencyKey": "auth-probe"}),
    ("POST", "/api/credits-plan", {"plan": "base", "dryRun": True}),
    ("POST", "/api/credits-checkout", {"pack": "pack_100"}),
    ("POST", "/api/credits-checkout/confirm", {"sessionId": "cs_test_probe"}),
]


def assert_401(r) -> str:
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"].startswith("Bearer")
    error = r.json()["error"]
    assert error["code"] == "unauthorized" and error["message"]
    return error["message"]


@pytest.mark.parametrize(("method", "path", "body"), BEARER_ROUTES)
def test_every_bearer_route_is_401_without_token(api: Api, method: str, path: str, body):
    r = api.http.request(method, path, json=body)
    assert "missing" in assert_401(r)
    assert "error=" not in r.headers["www-authenticate"]  # RFC 6750 §3: no error code without a token


def test_valid_token_accepted(api: Api, user: str):
    r = api.http.get("/api/credits-state", headers=api.auth(user))
    assert r.status_code == 200 and r.json()["userId"] == user


FORGERIES: dict[str, Callable[[ClerkStandIn], str]] = {
    "garbage": lambda c: "not-a-jwt",
    "three garbage parts": lambda c: "aaa.bbb.ccc",
    "alg none": lambda c: c.forge_alg_none(azp=AZP),
    "HS256 signed with the public key": lambda c: c.forge_hs256_with_public_pem(azp=AZP),
    "expired": lambda c: c.mint(uid(), exp_in=-60, azp=AZP),
    "not yet valid": lambda c: c.mint(uid(), nbf_in=120, azp=AZP),
    "unknown kid": lambda c: c.mint(uid(), kid="ins_unknown_kid", azp=AZP),
    "another key's signature": lambda c: c.forge_other_key(azp=AZP),
    "tampered payload": lambda c: c.forge_tampered(uid()),
    "missing sub": lambda c: c.mint(None, azp=AZP),
    "wrong azp": lambda c: c.mint(uid(), azp="https://evil.example"),
    "missing azp": lambda c: c.mint(uid()),
    "missing exp": lambda c: c.mint(uid(), exp_in=None, azp=AZP),
    "ES256": lambda c: c.mint(uid(), alg="ES256", azp=AZP),
}


@pytest.mark.parametrize("name", list(FORGERIES))
def test_bad_tokens_are_401(api: Api, name: str):
    token = FORGERIES[name](api.clerk)
    r = api.http.get("/api/credits-state", headers={"Authorization": f"Bearer {token}"})
    assert_401(r)
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    assert token not in r.text


def test_tampered_token_is_401(api: Api):
    token = api.clerk.forge_tampered("user_victim", new_sub="user_admin")
    assert "signature" in assert_401(api.http.get("/api/credits-state", headers={"Authorization": f"Bearer {token}"}))


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    x", "Token abc.def.ghi"])
def test_bad_authorization_headers(api: Api, header: str):
    assert_401(api.http.get("/api/credits-state", headers={"Authorization": header}))


def test_jwks_rotation_without_restart(api: Api):
    """A token signed with a newly published key is accepted once the server refetches the JWKS."""
    clerk = api.clerk
    old_kid = clerk.kid
    new_kid = clerk.rotate()  # the old key stays published
    assert new_kid != old_kid
    user = uid()
    # The verifier refetches on an unknown kid at most every 5 s (its cool-down);
    # an earlier unknown-kid probe may have just spent that budget.
    deadline = time.monotonic() + 12
    while True:
        r = api.http.get("/api/credits-state", headers=api.auth(user))
        if r.status_code == 200 or time.monotonic() > deadline:
            break
        assert r.status_code == 401, r.text
        time.sleep(0.5)
    assert r.status_code == 200, r.text
    # tokens of the previous key keep working while it is published, and stop once it is retired
    old_key = rsa_key(int(old_kid.split("_")[2]))  # kids are ins_standin_<slot>_<hex>
    old = clerk.mint(uid(), kid=old_kid, key=old_key, azp=AZP)
    assert api.http.get("/api/credits-state", headers={"Authorization": f"Bearer {old}"}).status_code == 200


# -- PEM (networkless) mode ----------------------------------------------------------------


def test_pem_mode(pem_api: Api):
    user = uid()
    r = pem_api.http.get("/api/credits-state", headers=pem_api.auth(user))
    assert r.status_code == 200 and r.json()["userId"] == user
    # the kid plays no part in PEM mode (as in Clerk's SDKs): the key decides
    r = pem_api.http.get("/api/credits-state", headers=pem_api.auth(user, kid="not-in-any-jwks"))
    assert r.status_code == 200
    clerk = pem_api.clerk
    for token in (
        clerk.mint(user, key=rsa_key("foreign")),
        clerk.forge_alg_none(),
        clerk.mint(user, key=pem_api.signing_key, exp_in=-60),
        clerk.mint(user, key=pem_api.signing_key, alg="PS256"),
    ):
        assert_401(pem_api.http.get("/api/credits-state", headers={"Authorization": f"Bearer {token}"}))


def test_auth_not_configured_is_503(bare_api: Api, clerk: ClerkStandIn):
    for method, path, body in BEARER_ROUTES:
        r = bare_api.http.request(method, path, json=body, headers={"Authorization": f"Bearer {clerk.mint('u1')}"})
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "auth_not_configured"
        assert "CLERK_" in r.json()["error"]["message"]
    assert bare_api.http.get("/api/credits-matrix").status_code == 200
