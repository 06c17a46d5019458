"""A deeply nested JSON body is a clear 400 on every JSON route, never a 500 (RecursionError)."""

from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():  # "use httpx2" notice of Starlette's TestClient
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from credits_core.runtime import reset_shared

ADMIN = "adm_deep_json_secret"
DEEP = '{"patch":' * 5000 + "1" + "}" * 5000
NESTED_UNDER_LIMIT = '{"patch": {"tools": [' + "[" * 40 + "]" * 40 + "]}}"


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setenv("CZ_LEDGER", "memory")
    monkeypatch.setenv("CZ_REGISTRY_ADMIN_SECRET", ADMIN)
    reset_shared()
    from credits_api import create_api

    try:
        with TestClient(create_api(), raise_server_exceptions=False) as c:
            yield c
    finally:
        reset_shared()


@pytest.mark.parametrize("body", [DEEP, NESTED_UNDER_LIMIT])
def test_registry_admin_refuses_a_deeply_nested_body(client, body):
    headers = {"x-cz-registry-admin": ADMIN, "content-type": "application/json"}
    r = client.post("/action-registry-admin", content=body, headers=headers)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "bad_request" and "nested too deeply" in r.json()["error"]["message"]
    assert client.get("/action-registry").json()["version"] == 1  # nothing saved


def test_typed_routes_answer_400_too(client):
    r = client.post("/credits-debit", content="[" * 30_000, headers={"content-type": "application/json"})
    assert r.status_code in (400, 401), r.text  # never a 500
