"""``credits_api.fast_path``: plain debits and state reads answered directly say exactly what the FastAPI routes say.

A token seen for the first time goes through the FastAPI route (and is then
remembered); the same token again takes the fast path. A fresh token for the
same user takes the route again, so each pair below compares the two paths.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from tests.api.conftest import BIG, Api

_LIFETIMES = itertools.count(120)


def _both(api: Api, user: str) -> tuple[dict[str, str], Callable[[], dict[str, str]]]:
    """(remembered token: fast path, a maker of never-seen tokens: FastAPI route) for ``user``."""
    fast = api.auth(user)
    assert api.http.get("/api/credits-state?limit=0", headers=fast).status_code == 200  # now remembered
    return fast, lambda: api.auth(user, exp_in=next(_LIFETIMES))


def test_debit_answers_alike_on_both_paths(api: Api, user: str, priced_tools):
    fast, route = _both(api, user)
    first = api.http.post("/api/credits-debit", json={"tool": "ask_ai", "idempotencyKey": f"{user}-1"}, headers=fast)
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    again = api.http.post("/api/credits-debit", json={"tool": "ask_ai", "idempotencyKey": f"{user}-1"}, headers=route())
    assert again.json() == {**first.json(), "replayed": True}
    by_header = api.http.post("/api/credits-debit", json={"tool": "ask_ai"}, headers={**fast, "Idempotency-Key": f"{user}-1"})
    assert by_header.json() == again.json()
    for headers in (fast, route()):
        r = api.http.post("/api/credits-debit", json={"tool": BIG, "idempotencyKey": f"{user}-big"}, headers=headers)
        assert r.status_code == 402
    codes = set()
    for headers in (fast, route()):
        r = api.http.post("/api/credits-debit", json={"tool": "nope", "idempotencyKey": f"{user}-2"}, headers=headers)
        codes.add((r.status_code, r.text))
    assert len(codes) == 1 and codes.pop()[0] == 400


def test_odd_shapes_go_to_the_route(api: Api, user: str):
    fast, _ = _both(api, user)
    bad = [
        ({"tool": "ask_ai", "idempotencyKey": "has spaces"}, 400),
        ({"tool": "ask_ai", "idempotencyKey": f"{user}-x", "extra": 1}, 400),
        ({"tool": "", "idempotencyKey": f"{user}-y"}, 400),
        ({"tool": "ask_ai", "idempotencyKey": None}, 400),
        (["ask_ai"], 400),
    ]
    for body, status in bad:
        r = api.http.post("/api/credits-debit", json=body, headers=fast)
        assert r.status_code == status and r.json()["error"]["code"] == "bad_request", (body, r.text)
    r = api.http.post("/api/credits-debit", content=b'{"tool": "ask_ai",', headers={**fast, "Content-Type": "application/json"})
    assert r.status_code == 400
    chunked = api.http.post(  # no Content-Length: the route (and the body limit) judge it
        "/api/credits-debit",
        content=iter([b'{"tool": "ask_ai", ', f'"idempotencyKey": "{user}-c"}}'.encode()]),
        headers={**fast, "Content-Type": "application/json"},
    )
    assert chunked.status_code == 200


def test_state_answers_alike_on_both_paths(api: Api, user: str):
    fast, route = _both(api, user)
    api.debit(user, f"{user}-s1")
    for query in ("", "?limit=0", "?limit=3", "?limit=500"):
        a = api.http.get(f"/api/credits-state{query}", headers=fast)
        b = api.http.get(f"/api/credits-state{query}", headers=route())
        assert a.status_code == b.status_code == 200 and a.content == b.content, query
    assert api.http.get("/api/credits-state?limit=501", headers=fast).status_code == 400
    assert api.http.get("/api/credits-state?limit=-1", headers=fast).status_code == 400
    assert api.http.get("/api/credits-state?limit=05", headers=fast).json()["ledgerTail"] != []
    before = api.http.get("/api/credits-state?limit=3", headers=fast).json()
    api.debit(user, f"{user}-s2")  # the cached answer must follow the ledger at once
    after = api.http.get("/api/credits-state?limit=3", headers=fast).json()
    assert after["balance"]["total"] == before["balance"]["total"] - 1
    assert after["ledgerTail"][0]["name"].endswith(f"{user}-s2")
