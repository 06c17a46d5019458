"""ClerkVerifier against a local JWKS stand-in (no internet)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from credits_core.auth import DEFAULT_JWKS_URL, ClerkVerifier, Principal
from credits_core.config import load_settings
from credits_core.errors import AuthUnavailable, ConfigError, CreditsError, InvalidToken, Unauthorized
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


# -- JWKS rotation, rate limit, outages ------------------------------------------------


def test_rotation_picks_up_new_kid_with_one_refetch(clerk):
    v = jwks_verifier(clerk)
    old = clerk.mint()
    v.verify(old)
    assert clerk.fetch_count == 1
    clerk.rotate(keep_old=True)
    assert v.verify(clerk.mint("user_new")).user_id == "user_new"
    assert clerk.fetch_count == 2
    v.verify(old)
    v.verify(clerk.mint())
    assert clerk.fetch_count == 2


def test_unknown_kids_are_rate_limited(clerk):
    v = jwks_verifier(clerk, refetch_interval_s=5)
    v.verify(clerk.mint())
    for i in range(25):
        assert rejected(v, clerk.mint(kid=f"ins_garbage_{i}")).message == "unknown signing key"
    assert clerk.fetch_count == 2  # initial fetch + one forced refetch
    # A real rotation inside the window waits for the window (documented trade-off).
    clerk.rotate()
    rejected(v, clerk.mint())
    assert clerk.fetch_count == 2


def test_rate_limit_window_reopens(clerk):
    v = jwks_verifier(clerk, refetch_interval_s=0.2)
    v.verify(clerk.mint())
    rejected(v, clerk.mint(kid="ins_a"))
    rejected(v, clerk.mint(kid="ins_b"))
    assert clerk.fetch_count == 2
    time.sleep(0.25)
    clerk.rotate()
    v.verify(clerk.mint())
    assert clerk.fetch_count == 3


def test_cold_cache_fetch_is_shared_by_threads(clerk):
    v = jwks_verifier(clerk)
    token = clerk.mint()
    barrier = threading.Barrier(50)

    def work(_):
        barrier.wait()
        return v.verify(token).user_id

    with ThreadPoolExecutor(50) as pool:
        assert set(pool.map(work, range(50))) == {"user_1"}
    assert clerk.fetch_count == 1


def test_thread_safety_smoke(clerk):
    v = jwks_verifier(clerk, authorized_parties=["https://app.example"])
    good = [clerk.mint(f"user_{i}", azp="https://app.example") for i in range(10)]
    bad = [clerk.forge_tampered(), clerk.mint(exp_in=-60), clerk.forge_alg_none(), "junk"]

    def work(i):
        for j in range(20):
            token = good[(i + j) % len(good)]
            assert v.verify_authorization_header(f"Bearer {token}").user_id.startswith("user_")
            with pytest.raises(InvalidToken):
                v.verify(bad[(i + j) % len(bad)])
        return True

    with ThreadPoolExecutor(50) as pool:
        assert all(pool.map(work, range(50)))
    assert clerk.fetch_count == 1


def test_cache_expires(clerk):
    v = jwks_verifier(clerk, cache_ttl_s=0.2)
    v.verify(clerk.mint())
    time.sleep(0.25)
    v.verify(clerk.mint())
    assert clerk.fetch_count == 2


def _unavailable(v: ClerkVerifier, token: str) -> AuthUnavailable:
    with pytest.raises(AuthUnavailable) as info:
        v.verify(token)
    err = info.value
    assert (err.code, err.http_status) == ("auth_unavailable", 503)
    return err


def test_jwks_server_down_is_503(clerk):
    v = jwks_verifier(clerk)
    token = clerk.mint()
    clerk.stop()
    err = _unavailable(v, token)
    assert "Clerk" in err.message
    assert token not in str(err)


def test_jwks_http_error_is_503_and_not_retried_at_once(clerk):
    v = jwks_verifier(clerk, refetch_interval_s=5)
    clerk.fail_status = 500
    assert "HTTP 500" in _unavailable(v, clerk.mint()).message
    _unavailable(v, clerk.mint())
    assert clerk.request_count == 1  # the second call did not touch the network


def test_failed_fetch_retried_after_interval(clerk):
    v = jwks_verifier(clerk, refetch_interval_s=0.1)
    clerk.fail_status = 502
    _unavailable(v, clerk.mint())
    clerk.fail_status = None
    time.sleep(0.15)
    assert v.verify(clerk.mint()).user_id == "user_1"


def test_wrong_secret_key_is_503_without_leaking_it(clerk):
    secret = "sk_test_wrong_" + "z" * 24
    v = ClerkVerifier(secret_key=secret, jwks_url=clerk.url)
    err = _unavailable(v, clerk.mint())
    assert "CLERK_SECRET_KEY" in err.message
    assert secret not in str(err) and secret not in repr(err)
    assert clerk.secret_key not in str(err)


def test_timeout_is_503():
    with socket.socket() as sock:  # listens but never answers
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        with ClerkStandIn(lifetime_s=30) as clerk:
            v = ClerkVerifier(secret_key="sk_test_x", jwks_url=f"http://127.0.0.1:{port}/v1/jwks", timeout_s=0.3)
            assert "timed out" in _unavailable(v, clerk.mint()).message


def test_stale_keys_served_while_clerk_is_down(clerk):
    v = jwks_verifier(clerk, cache_ttl_s=0.2)
    v.verify(clerk.mint())
    clerk.stop()
    time.sleep(0.25)
    assert v.verify(clerk.mint()).user_id == "user_1"  # stale-if-error
    strict = jwks_verifier(clerk, cache_ttl_s=0.2, stale_if_error_s=0)
    _unavailable(strict, clerk.mint())


def test_unknown_kid_during_outage_is_503(clerk):
    v = jwks_verifier(clerk)
    v.verify(clerk.mint())
    clerk.fail_status = 500
    _unavailable(v, clerk.mint(kid="ins_rotated"))
    assert v.verify(clerk.mint()).user_id == "user_1"  # known kid: cache still fresh


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


# -- configuration --------------------------------------------------------------


def from_env(env: dict[str, str]) -> ClerkVerifier | None:
    """The verifier the server builds from these ``CLERK_*`` variables (one Settings for all)."""
    return ClerkVerifier.from_settings(load_settings(env))


def test_from_env_none_without_keys():
    assert from_env({}) is None
    assert from_env({"CLERK_JWT_KEY": " ", "CLERK_SECRET_KEY": ""}) is None


def test_from_env_secret_uses_jwks(clerk):
    v = from_env(
        {
            "CLERK_SECRET_KEY": clerk.secret_key,
            "CLERK_JWKS_URL": clerk.url,
            "CLERK_AUTHORIZED_PARTIES": " https://a.example , ,http://localhost:8501 ",
        }
    )
    assert v is not None
    assert v.verify(clerk.mint(azp="http://localhost:8501")).user_id == "user_1"
    assert "not an authorized party" in rejected(v, clerk.mint(azp="https://b.example")).message
    assert clerk.fetch_count == 1


def test_from_env_default_jwks_url():
    v = from_env({"CLERK_SECRET_KEY": "sk_test_x"})
    assert v is not None and v._keys._jwks_url == DEFAULT_JWKS_URL == "https://api.clerk.com/v1/jwks"


def test_from_env_pem_wins_and_is_networkless(clerk):
    escaped = clerk.public_pem().strip().replace("\n", "\\n")  # as often found in .env files
    v = from_env(
        {"CLERK_JWT_KEY": escaped, "CLERK_SECRET_KEY": clerk.secret_key, "CLERK_JWKS_URL": clerk.url}
    )
    assert v is not None
    assert v.verify(clerk.mint()).user_id == "user_1"
    one_line = from_env({"CLERK_JWT_KEY": clerk.public_pem().replace("\n", "")})
    assert one_line is not None and one_line.verify(clerk.mint()).user_id == "user_1"
    assert clerk.request_count == 0


@pytest.mark.parametrize(
    "value",
    [
        "not a pem at all sk_live_secretish",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
    ],
)
def test_from_env_bad_pem_names_variable_not_value(value):
    with pytest.raises(ConfigError, match="CLERK_JWT_KEY") as info:
        from_env({"CLERK_JWT_KEY": value})
    assert value not in str(info.value)
    assert "secretish" not in str(info.value)
    assert info.value.__cause__ is None


def test_from_env_ec_key_rejected():
    from cryptography.hazmat.primitives import serialization

    from tests.standins.clerk_jwks import ec_key

    pem = (
        ec_key().public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ConfigError, match="CLERK_JWT_KEY"):
        from_env({"CLERK_JWT_KEY": pem.decode()})


def test_from_env_bad_jwks_url():
    with pytest.raises(ConfigError, match="CLERK_JWKS_URL"):
        from_env({"CLERK_SECRET_KEY": "sk", "CLERK_JWKS_URL": "file:///etc/passwd"})


def test_constructor_needs_a_key():
    with pytest.raises(ValueError):
        ClerkVerifier()
    with pytest.raises(ValueError, match="jwt_key_pem"):
        ClerkVerifier(jwt_key_pem="nope")
