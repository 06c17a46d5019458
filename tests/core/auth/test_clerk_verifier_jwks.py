"""ClerkVerifier against a local JWKS stand-in (no internet): key rotation, the unknown-kid rate limit, caching and outages."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from credits_core.auth import ClerkVerifier
from credits_core.errors import AuthUnavailable, InvalidToken
from tests.core.auth.conftest import jwks_verifier, rejected
from tests.standins.clerk_jwks import ClerkStandIn

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
