"""Concurrent debits over HTTP, checked afterwards in the SQLite ledger itself."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from credits_core.stores.base import RowFilter
from tests.api.conftest import TEN, Api, checked_async_client, uid


async def _burst(api: Api, requests: list[tuple[dict, dict]]) -> list[httpx.Response]:
    """POST every (body, headers) to /api/credits-debit at once, one connection each."""
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=len(requests))
    async with checked_async_client(api.url, limits=limits) as http:
        start = asyncio.Event()

        async def one(body: dict, headers: dict) -> httpx.Response:
            await start.wait()
            return await http.post("/api/credits-debit", json=body, headers=headers)

        tasks = [asyncio.create_task(one(b, h)) for b, h in requests]
        await asyncio.sleep(0.05)
        start.set()
        return await asyncio.gather(*tasks)


def test_200_concurrent_requests_with_one_key(api: Api):
    user = uid()
    key = f"{user}-same"
    headers = api.auth(user)
    responses = asyncio.run(_burst(api, [({"tool": "ask_ai", "idempotencyKey": key}, headers)] * 200))
    assert Counter(r.status_code for r in responses) == {200: 200}
    bodies = [r.json() for r in responses]
    assert sum(not b["replayed"] for b in bodies) == 1
    first = next(b for b in bodies if not b["replayed"])
    for b in bodies:
        assert {**b, "replayed": False} == first  # identical apart from `replayed`
    with api.store() as store:
        rows = store.rows(RowFilter(user_id=user, kinds=("debit",)))
        assert [r.name for r in rows] == [f"CZ_SMCR|debit|{key}"]
        assert store.account(user).balance.total == 99


def test_50_distinct_debits_against_a_balance_covering_10(api: Api, priced_tools):
    user = uid()
    headers = api.auth(user)
    assert api.state(user)["balance"]["total"] == 100  # 10 × test_ten
    requests = [({"tool": TEN, "idempotencyKey": f"{user}-d{i}"}, headers) for i in range(50)]
    responses = asyncio.run(_burst(api, requests))
    codes = Counter(r.status_code for r in responses)
    assert codes == {200: 10, 402: 40}, codes
    for r in responses:
        if r.status_code == 402:
            assert r.json()["error"]["code"] == "insufficient_credits"
    with api.store() as store:
        rows = store.rows(RowFilter(user_id=user, kinds=("debit",)))
        assert len(rows) == 10 and all(r.delta == -10 for r in rows)
        assert store.account(user).balance.total == 0
    assert api.state(user)["balance"] == {"total": 0, "included": 0, "purchased": 0}


def test_same_key_from_two_users_at_once(api: Api):
    alice, mallory = uid("alice"), uid("mallory")
    key = f"{alice}-contested"
    users = [alice, mallory] * 10
    tokens = {u: api.auth(u) for u in (alice, mallory)}
    responses = asyncio.run(_burst(api, [({"tool": "ask_ai", "idempotencyKey": key}, tokens[u]) for u in users]))
    with api.store() as store:
        row = store.find(f"CZ_SMCR|debit|{key}")
        assert row is not None
        winner = row.user_id
        loser = mallory if winner == alice else alice
        assert store.rows(RowFilter(user_id=loser, kinds=("debit",))) == []
    for u, r in zip(users, responses, strict=True):
        if u == winner:
            assert r.status_code == 200 and r.json()["row"]["userId"] == winner
        else:
            assert r.status_code == 409 and r.json()["error"]["code"] == "idempotency_conflict"
            assert winner not in r.text and "balance" not in r.text and "ask_ai" not in r.text
