"""``credits_api.token_cache.TokenCache``: accepted tokens remembered until exp, refused ones never."""

from __future__ import annotations

import time
from types import MappingProxyType

import pytest

from credits_api.token_cache import TokenCache
from credits_core.auth import Principal
from credits_core.errors import InvalidToken


class _Verifier:
    """Accepts ``good-*`` tokens (exp given per token), refuses the rest; counts calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.exp: dict[str, float] = {}

    def verify_authorization_header(self, header: str | None) -> Principal:
        self.calls += 1
        token = (header or "")[7:]
        if not token.startswith("good-"):
            raise InvalidToken("invalid token signature")
        exp = self.exp.get(token, time.time() + 600)
        return Principal(user_id=token, session_id=None, claims=MappingProxyType({"sub": token, "exp": exp}))


def test_accepted_tokens_are_remembered_refused_ones_are_not():
    v = _Verifier()
    cache = TokenCache(v)  # type: ignore[arg-type]
    assert cache.verify_authorization_header("Bearer good-1").user_id == "good-1"
    assert cache.verify_authorization_header("bearer good-1").user_id == "good-1"
    assert cache.cached("Bearer good-1") is not None
    assert v.calls == 1
    for _ in range(2):
        with pytest.raises(InvalidToken):
            cache.verify_authorization_header("Bearer bad-1")
    assert v.calls == 3 and cache.cached("Bearer bad-1") is None
    assert cache.cached(None) is None and cache.cached("Basic good-1") is None


def test_a_remembered_token_expires_with_its_exp_and_the_ttl():
    v = _Verifier()
    v.exp["good-soon"] = time.time() + 0.2
    cache = TokenCache(v, ttl_s=0.4)  # type: ignore[arg-type]
    cache.verify_authorization_header("Bearer good-soon")
    cache.verify_authorization_header("Bearer good-long")
    time.sleep(0.25)
    assert cache.cached("Bearer good-soon") is None  # its exp passed
    assert cache.cached("Bearer good-long") is not None
    time.sleep(0.2)
    assert cache.cached("Bearer good-long") is None  # the ttl passed


def test_the_cache_is_bounded():
    cache = TokenCache(_Verifier(), max_entries=3)  # type: ignore[arg-type]
    for i in range(5):
        cache.verify_authorization_header(f"Bearer good-{i}")
    assert [cache.cached(f"Bearer good-{i}") is not None for i in range(5)] == [False, False, True, True, True]
