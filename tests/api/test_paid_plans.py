"""Plans are paid subscriptions: a user's token previews, only the admin header applies.

Runs ``create_api()`` in-process (Starlette's TestClient) on a temporary SQLite
ledger with the product's default starter plan (``none``), the same routes as the
server; the test reads that file with its own ``SqliteStore``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

with warnings.catch_warnings():  # "use httpx2" notice of Starlette's TestClient
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from credits_core import SqliteStore
from credits_core.runtime import reset_shared
from tests.standins.clerk_jwks import pem_of, rsa_key

ADMIN = "adm_paid_plans_secret"


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, ledger_path: Path) -> Iterator[TestClient]:
    key = rsa_key("paid-plans")
    monkeypatch.setenv("CZ_LEDGER_PATH", str(ledger_path))
    monkeypatch.setenv("CLERK_JWT_KEY", pem_of(key))
    monkeypatch.setenv("CZ_REGISTRY_ADMIN_SECRET", ADMIN)
    monkeypatch.setenv("CZ_ADMIN_USERS", "u_ops, ops@example.com")
    reset_shared()
    from credits_api import create_api

    def token(user: str) -> dict[str, str]:
        now = int(time.time())
        claims = {"sub": user, "exp": now + 300, "iat": now}
        return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm='RS256')}"}

    try:
        with TestClient(create_api(), raise_server_exceptions=False) as c:
            c.token = token  # type: ignore[attr-defined]
            yield c
    finally:
        reset_shared()


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.sqlite3"


@pytest.fixture
def store(client: TestClient, ledger_path: Path) -> Iterator[SqliteStore]:
    """The server's ledger file, opened by the test."""
    store = SqliteStore(ledger_path)
    yield store
    store.close()


def rows_of(store: SqliteStore, user: str) -> list:
    return store.tail(user, 500)


def test_a_signed_in_user_without_a_subscription_has_no_plan_and_no_grant(client):
    state = client.get("/credits-state", headers=client.token("u_free")).json()
    assert state["plan"] == "none" and state["balance"] == {"total": 0, "included": 0, "purchased": 0}
    assert (state["monthlyIncluded"], state["softCap"]) == (0, 0)
    r = client.post("/credits-debit", json={"tool": "portfolio_scan", "idempotencyKey": "k1"}, headers=client.token("u_free"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "plan_required"
    assert "no subscription" in r.json()["error"]["message"]
    assert r.json()["error"]["subscribe"]["api"] == "POST /api/credits-subscription"


def test_a_users_token_previews_a_plan_but_never_applies_one(client, store):
    h = client.token("u_plan")
    dry = client.post("/credits-plan", json={"plan": "professional", "dryRun": True}, headers=h)
    assert dry.status_code == 200 and dry.json()["granted"] == 1500 and dry.json()["dryRun"] is True
    before = rows_of(store, "u_plan")
    r = client.post("/credits-plan", json={"plan": "professional"}, headers=h)
    assert r.status_code == 403, r.text
    error = r.json()["error"]
    assert error["code"] == "subscription_required" and error["subscribe"]["api"] == "POST /api/credits-subscription"
    assert rows_of(store, "u_plan") == before  # nothing written
    r = client.post("/credits-plan", json={"plan": "base", "dryRun": True, "userId": "someone_else"}, headers=h)
    assert r.status_code == 403 and r.json()["error"]["field"] == "userId"


def test_the_admin_header_applies_a_plan_change_for_a_user(client):
    admin = {"x-cz-registry-admin": ADMIN}
    r = client.post("/credits-plan", json={"plan": "intelligence"}, headers=admin)
    assert r.status_code == 400 and r.json()["error"]["field"] == "userId"
    r = client.post("/credits-plan", json={"plan": "intelligence", "userId": "u_adm", "requestId": "r1"}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["granted"] == 400 and r.json()["plan"] == "intelligence"
    state = client.get("/credits-state", headers=client.token("u_adm")).json()
    assert state["plan"] == "intelligence" and state["balance"]["included"] == 400
    wrong = {"x-cz-registry-admin": "not-the-secret"}
    r = client.post("/credits-plan", json={"plan": "base", "userId": "u_adm"}, headers=wrong)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_a_support_read_writes_nothing(client, store):
    r = client.get("/credits-state?userId=user_typo", headers={"x-cz-registry-admin": ADMIN})
    assert r.status_code == 200 and r.json()["balance"]["total"] == 0
    assert rows_of(store, "user_typo") == []
    assert store.account("user_typo").month is None


def test_an_admin_user_from_cz_admin_users_is_an_admin_on_the_api_too(client):
    ops, nobody = client.token("u_ops"), client.token("u_nobody")
    r = client.post("/credits-plan", json={"plan": "intelligence", "userId": "u_cust"}, headers=ops)
    assert r.status_code == 200 and r.json()["granted"] == 400
    assert client.get("/credits-state?userId=u_cust", headers=ops).json()["plan"] == "intelligence"
    r = client.get("/credits-state?userId=u_cust", headers=nobody)
    assert r.status_code == 403 and "x-cz-registry-admin" in r.json()["error"]["message"]
    assert client.post("/credits-debit", json={"tool": "ask_ai", "idempotencyKey": "d1"}, headers=client.token("u_cust")).status_code == 200
    r = client.post("/credits-refund", json={"idempotencyKey": "d1"}, headers=nobody)
    assert r.status_code == 403
    r = client.post("/credits-refund", json={"idempotencyKey": "d1"}, headers=ops)
    assert r.status_code == 200 and r.json()["row"]["kind"] == "refund"


def test_the_served_registry_is_the_stored_document_not_the_starter_view(client):
    doc = client.get("/action-registry").json()
    assert doc["defaultPlan"] == "base" and "none" not in [p["id"] for p in doc["plans"]]
