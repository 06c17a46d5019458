"""Every route of SPEC §5 over real HTTP: statuses, shapes and error bodies."""

from __future__ import annotations

import json

import httpx
import pytest

from credits_core.models import ROW_PREFIX
from tests.api.conftest import BIG, TEN, Api, uid


def err(r: httpx.Response, status: int, code: str) -> dict:
    """Assert an error answer and return its ``error`` object."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def balance(total: int, included: int, purchased: int = 0) -> dict[str, int]:
    return {"total": total, "included": included, "purchased": purchased}


# -- public ------------------------------------------------------------------------------


def test_matrix_is_public(api: Api):
    r = api.http.get("/api/credits-matrix")
    assert r.status_code == 200
    m = r.json()
    assert set(m) == {"tenant", "version", "tools", "plans", "packs"}
    assert m["tenant"] == "cityzeen" and m["version"] >= 1
    assert {p["id"] for p in m["plans"]} >= {"base", "intelligence", "professional"}
    base = next(p for p in m["plans"] if p["id"] == "base")
    assert base["softCap"] == base["softCapMultiplier"] * base["monthlyIncluded"]
    ask = next(t for t in m["tools"] if t["id"] == "ask_ai")
    assert isinstance(ask["credits"], int)
    assert all({"price", "currency", "credits"} <= set(p) for p in m["packs"])


def test_registry_is_public(api: Api):
    r = api.http.get("/api/action-registry")
    assert r.status_code == 200
    doc = r.json()
    assert {"tenant", "version", "updatedAt", "plans", "tools", "packs", "defaultPlan"} <= set(doc)


def test_unknown_route_and_method(api: Api):
    e = err(api.http.get("/api/no-such-route"), 404, "not_found")
    assert "/api/no-such-route" in e["message"]
    e = err(api.http.delete("/api/credits-matrix"), 405, "method_not_allowed")
    assert "DELETE" in e["message"]


# -- registry admin -----------------------------------------------------------------------


def test_registry_admin_header_missing_or_wrong_is_403(api: Api):
    body = {"patch": {}}
    e = err(api.http.post("/api/action-registry-admin", json=body), 403, "forbidden")
    assert "x-cz-registry-admin" in e["message"]
    e = err(
        api.http.post("/api/action-registry-admin", json=body, headers={"x-cz-registry-admin": "nope-nope"}),
        403,
        "forbidden",
    )
    assert "not valid" in e["message"]
    err(api.http.get("/api/action-registry/versions"), 403, "forbidden")


def test_registry_patch_replace_versions_and_conflict(api: Api, priced_tools):
    current = api.http.get("/api/action-registry").json()
    v = current["version"]
    r = api.http.post(
        "/api/action-registry-admin",
        json={"patch": {"tools": [{"id": "test_patch_only", "label": "Patch", "credits": 2}]}, "expectedVersion": v},
        headers=api.admin(),
    )
    assert r.status_code == 200, r.text
    saved = r.json()
    assert saved["version"] == v + 1 == saved["registry"]["version"]
    assert any(t["id"] == "test_patch_only" for t in api.http.get("/api/credits-matrix").json()["tools"])

    # stale expectedVersion: 409, nothing stored
    e = err(
        api.http.post("/api/action-registry-admin", json={"patch": {}, "expectedVersion": v}, headers=api.admin()),
        409,
        "registry_version_conflict",
    )
    assert e["currentVersion"] == v + 1

    # full replacement (the same document minus the test tool), conditional on the version
    doc = api.http.get("/api/action-registry").json()
    doc["tools"] = [t for t in doc["tools"] if t["id"] != "test_patch_only"]
    doc["expectedVersion"] = v + 1
    r = api.http.post("/api/action-registry-admin", json=doc, headers=api.admin())
    assert r.status_code == 200, r.text
    assert r.json()["version"] == v + 2

    versions = api.http.get("/api/action-registry/versions", headers=api.admin()).json()["versions"]
    assert [x["version"] for x in versions[:3]] == [v + 2, v + 1, v]
    assert all(set(x) == {"version", "updatedAt"} for x in versions)


def test_registry_admin_lists_every_problem(api: Api):
    doc = api.http.get("/api/action-registry").json()
    doc["plans"] = [p for p in doc["plans"] if p["id"] != "professional"]  # a plan missing
    doc["tools"][0]["credits"] = -1  # negative cost
    doc["tools"].append(dict(doc["tools"][1]))  # duplicate id
    doc["packs"][0].pop("price")  # pack without price
    doc["surprise"] = True  # unknown key
    before = api.http.get("/api/action-registry").json()["version"]
    e = err(api.http.post("/api/action-registry-admin", json=doc, headers=api.admin()), 400, "registry_invalid")
    problems = " | ".join(e["problems"])
    for needle in ("professional", "credits", "duplicate", "price", "surprise"):
        assert needle in problems, (needle, e["problems"])
    assert api.http.get("/api/action-registry").json()["version"] == before

    e = err(
        api.http.post(
            "/api/action-registry-admin",
            json={"patch": {"tools": [{"id": "ask_ai", "credits": -5}], "colour": "red"}},
            headers=api.admin(),
        ),
        400,
        "registry_invalid",
    )
    assert any("colour" in p for p in e["problems"]) and any("credits" in p for p in e["problems"])


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"{not json", "JSON"),
        (b"[1, 2]", "object"),
        (b"", "object"),
        (b'{"patch": {}, "expectedVersion": "x"}', "expectedVersion"),
    ],
)
def test_registry_admin_bad_bodies(api: Api, content: bytes, needle: str):
    r = api.http.post(
        "/api/action-registry-admin", content=content, headers={**api.admin(), "content-type": "application/json"}
    )
    assert needle in err(r, 400, "bad_request")["message"]


def test_registry_admin_is_absent_without_secret(bare_api: Api):
    unknown = err(bare_api.http.post("/api/no-such-route", json={}), 404, "not_found")
    for path in ("/api/action-registry-admin",):
        for headers in ({}, {"x-cz-registry-admin": "anything-at-all"}):
            e = err(bare_api.http.post(path, content=b"{broken", headers=headers), 404, "not_found")
            assert set(e) == set(unknown) and e["message"] == unknown["message"].replace("/api/no-such-route", path)
    err(bare_api.http.get("/api/action-registry/versions"), 404, "not_found")
    err(bare_api.http.get("/api/action-registry-admin"), 404, "not_found")  # not 405: absent for every method
    paths = bare_api.http.get("/api/openapi.json").json()["paths"]
    assert "/action-registry-admin" not in paths and "/action-registry/versions" not in paths
    assert bare_api.http.get("/api/action-registry").status_code == 200


# -- state -------------------------------------------------------------------------------


def test_state_of_a_new_user(api: Api, user: str):
    s = api.state(user)
    assert s["userId"] == user and s["plan"] == "base"
    assert s["balance"] == balance(100, 100) and s["monthlyIncluded"] == 100 and s["softCap"] == 300
    assert s["enforce"] is True and len(s["month"]) == 7
    assert [row["kind"] for row in s["ledgerTail"]] == ["grant"]
    assert s["ledgerTail"][0]["name"].startswith(ROW_PREFIX)


def test_state_limit(api: Api, user: str):
    for i in range(3):
        assert api.debit(user, f"{user}-lim-{i}").status_code == 200
    assert len(api.state(user, limit=2)["ledgerTail"]) == 2
    assert api.state(user, limit=0)["ledgerTail"] == []
    tail = api.state(user)["ledgerTail"]  # default 20
    assert [r["kind"] for r in tail] == ["debit", "debit", "debit", "grant"]
    assert len(api.state(user, limit=500)["ledgerTail"]) == 4
    for bad in ("501", "-1", "abc", "1.5"):
        e = err(api.http.get(f"/api/credits-state?limit={bad}", headers=api.auth(user)), 400, "bad_request")
        assert "limit" in e["message"] and e["problems"][0]["field"] == "limit"


def test_state_support_view(api: Api, pem_api: Api, user: str):
    api.debit(user, f"{user}-sv")
    r = api.http.get(f"/api/credits-state?userId={user}", headers=api.admin())
    assert r.status_code == 200 and r.json()["userId"] == user and r.json()["balance"]["total"] == 99
    other = uid()
    # a user's own token does not open the support view
    e = err(api.http.get(f"/api/credits-state?userId={user}", headers=api.auth(other)), 403, "forbidden")
    assert "x-cz-registry-admin" in e["message"]
    err(
        api.http.get(f"/api/credits-state?userId={user}", headers={"x-cz-registry-admin": "wrong-secret"}),
        403,
        "forbidden",
    )
    e = err(
        pem_api.http.get(f"/api/credits-state?userId={user}", headers={"x-cz-registry-admin": "x"}), 403, "forbidden"
    )
    assert "disabled" in e["message"]
    # a credential that is sent must be valid even where the admin header is what counts
    bad_token = {**api.admin(), "Authorization": "Bearer not-a-jwt"}
    err(api.http.get(f"/api/credits-state?userId={user}", headers=bad_token), 401, "unauthorized")


def test_state_refuses_a_repeated_query_parameter(api: Api, user: str):
    e = err(api.http.get(f"/api/credits-state?userId={user}&userId=other", headers=api.admin()), 400, "bad_request")
    assert e["field"] == "userId" and "more than once" in e["message"]
    err(api.http.get("/api/credits-state?limit=1&limit=2", headers=api.auth(user)), 400, "bad_request")


# -- debit -------------------------------------------------------------------------------


def test_debit_and_replay(api: Api, user: str):
    key = f"{user}-q1"
    first = api.debit(user, key)
    assert first.status_code == 200
    d = first.json()
    assert set(d) == {"row", "balance", "replayed"} and d["replayed"] is False
    assert d["balance"] == balance(99, 99)
    row = d["row"]
    assert row["name"] == f"CZ_SMCR|debit|{key}" and row["kind"] == "debit" and row["delta"] == -1
    assert row["userId"] == user and row["meta"]["tool"] == "ask_ai"
    again = api.debit(user, key).json()
    assert again["replayed"] is True and again["row"] == row and again["balance"] == d["balance"]
    assert api.state(user)["balance"]["total"] == 99


def test_debit_key_in_header(api: Api, user: str):
    h = {**api.auth(user), "Idempotency-Key": f"{user}-h1"}
    r = api.http.post("/api/credits-debit", json={"tool": "ask_ai"}, headers=h)
    assert r.status_code == 200 and r.json()["row"]["name"].endswith(f"{user}-h1")
    # the same key in both places is fine (a replay here)
    r = api.http.post("/api/credits-debit", json={"tool": "ask_ai", "idempotencyKey": f"{user}-h1"}, headers=h)
    assert r.status_code == 200 and r.json()["replayed"] is True
    e = err(
        api.http.post("/api/credits-debit", json={"tool": "ask_ai", "idempotencyKey": f"{user}-other"}, headers=h),
        400,
        "bad_request",
    )
    assert "Idempotency-Key" in e["message"] and e["field"] == "idempotencyKey"


def test_debit_bad_requests(api: Api, user: str):
    h = api.auth(user)
    e = err(api.http.post("/api/credits-debit", json={"tool": "ask_ai"}, headers=h), 400, "bad_request")
    assert "idempotencyKey" in e["message"]
    e = err(api.debit(user, "has spaces"), 400, "bad_request")
    assert e["problems"] == [{"field": "idempotencyKey", "message": e["problems"][0]["message"]}]
    e = err(api.debit(user, f"{user}-u", tool="no_such_tool"), 400, "unknown_tool")
    assert e["tool"] == "no_such_tool"
    e = err(
        api.http.post("/api/credits-debit", json={"tool": 3, "idempotencyKey": "k", "extra": 1}, headers=h),
        400,
        "bad_request",
    )
    assert {p["field"] for p in e["problems"]} == {"tool", "extra"}
    assert "tool" in e["message"] and "extra" in e["message"]
    e = err(api.http.post("/api/credits-debit", json={}, headers=h), 400, "bad_request")
    assert "tool" in e["message"]
    assert api.state(user)["balance"]["total"] == 100  # nothing was written


def test_malformed_json_wrong_type_and_too_large(api: Api, user: str):
    h = {**api.auth(user), "content-type": "application/json"}
    e = err(api.http.post("/api/credits-debit", content=b'{"tool": "ask_ai",', headers=h), 400, "bad_request")
    assert "not valid JSON" in e["message"]
    e = err(
        api.http.post(
            "/api/credits-debit",
            content=b'{"tool": "ask_ai"}',
            headers={**api.auth(user), "content-type": "text/plain"},
        ),
        400,
        "bad_request",
    )
    assert "application/json" in e["message"]
    big = json.dumps({"tool": "ask_ai", "idempotencyKey": "k", "pad": "x" * 70_000}).encode()
    e = err(api.http.post("/api/credits-debit", content=big, headers=h), 413, "payload_too_large")
    assert "64 KiB" in e["message"]

    def chunks():
        for _ in range(20):
            yield b" " * 4096  # 80 KiB of whitespace, no Content-Length

    e = err(api.http.post("/api/credits-debit", content=chunks(), headers=h), 413, "payload_too_large")
    # a body just under the limit is read normally
    ok = json.dumps({"tool": "ask_ai", "idempotencyKey": f"{user}-pad"}).encode() + b" " * 60_000
    assert api.http.post("/api/credits-debit", content=ok, headers=h).status_code == 200


def test_debit_plan_required(api: Api, user: str):
    e = err(api.debit(user, f"{user}-pr", tool="valuation_model"), 403, "plan_required")
    assert e["requiredPlan"] == "intelligence" and e["plan"] == "base" and e["tool"] == "valuation_model"


def test_debit_insufficient_credits(api: Api, user: str, priced_tools):
    e = err(api.debit(user, f"{user}-big", tool=BIG), 402, "insufficient_credits")
    assert e["required"] == priced_tools[BIG] and e["balance"] == balance(100, 100)
    assert e["topUp"]["packs"] and e["topUp"]["accountUrl"].endswith("/account#credits")
    with api.store() as store:
        assert store.find(f"CZ_SMCR|debit|{user}-big") is None


def test_idempotency_conflicts(api: Api, user: str, priced_tools):
    key = f"{user}-shared"
    assert api.debit(user, key, tool=TEN).status_code == 200
    intruder = uid("intruder")
    r = api.debit(intruder, key, tool=TEN)
    e = err(r, 409, "idempotency_conflict")
    assert user not in r.text and TEN not in r.text and "balance" not in r.text
    e = err(api.debit(user, key, tool="ask_ai"), 409, "idempotency_conflict")
    assert e["field"] == "tool"
    assert api.state(intruder, limit=0)["balance"]["total"] == 100


def test_warn_only_debit_writes_a_shortfall(pem_api: Api, user: str):
    # comps_report costs 3: 33 debits use 99 of 100, the 34th is short
    for i in range(33):
        assert pem_api.debit(user, f"{user}-w{i}", tool="comps_report").status_code == 200
    r = pem_api.debit(user, f"{user}-w-short", tool="comps_report")
    assert r.status_code == 200
    d = r.json()
    assert d["warning"] and d["row"]["delta"] == 0 and d["row"]["meta"]["shortfall"] == 3
    assert d["balance"] == balance(1, 1)
    assert pem_api.state(user)["enforce"] is False


# -- refund ------------------------------------------------------------------------------


def test_refund(api: Api, user: str, priced_tools):
    key = f"{user}-rf"
    assert api.debit(user, key, tool=TEN).json()["balance"]["total"] == 90
    r = api.http.post("/api/credits-refund", json={"idempotencyKey": key, "reason": "timeout"}, headers=api.admin())
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["replayed"] is False and d["row"]["kind"] == "refund" and d["row"]["delta"] == 10
    assert d["balance"] == balance(100, 100)
    again = api.http.post("/api/credits-refund", json={"idempotencyKey": key}, headers=api.admin()).json()
    assert again["replayed"] is True and again["row"] == d["row"]
    assert api.state(user)["balance"]["total"] == 100


def test_refund_errors(api: Api, pem_api: Api):
    e = err(
        api.http.post("/api/credits-refund", json={"idempotencyKey": "never-used-key"}, headers=api.admin()),
        404,
        "not_found",
    )
    assert "never-used-key" in e["message"]
    err(api.http.post("/api/credits-refund", json={"idempotencyKey": "k"}), 403, "forbidden")
    err(
        api.http.post("/api/credits-refund", json={"idempotencyKey": "k"}, headers={"x-cz-registry-admin": "bad-bad"}),
        403,
        "forbidden",
    )
    e = err(pem_api.http.post("/api/credits-refund", json={"idempotencyKey": "k"}), 403, "forbidden")
    assert "disabled" in e["message"]
    err(api.http.post("/api/credits-refund", json={"reason": "x"}, headers=api.admin()), 400, "bad_request")


# -- plan --------------------------------------------------------------------------------


def test_plan_dry_run_upgrade_and_downgrade(api: Api, user: str):
    h = api.auth(user)
    dry = api.http.post("/api/credits-plan", json={"plan": "professional", "dryRun": True}, headers=h).json()
    assert dry["dryRun"] is True and dry["previousPlan"] == "base" and dry["plan"] == "professional"
    assert dry["granted"] == 1400 and dry["balance"] == balance(1500, 1500)
    assert api.state(user)["plan"] == "base"  # nothing written

    # a user's token never applies a plan: plans are paid subscriptions
    e = err(api.http.post("/api/credits-plan", json={"plan": "professional"}, headers=h), 403, "subscription_required")
    assert e["subscribe"]["api"] == "POST /api/credits-subscription"
    assert api.state(user)["plan"] == "base" and api.state(user)["balance"]["total"] == 100

    # support / server-to-server applies with the admin header
    a = api.admin()
    body = {"plan": "professional", "requestId": f"{user}-up", "userId": user}
    up = api.http.post("/api/credits-plan", json=body, headers=a)
    assert up.status_code == 200, up.text
    assert up.json()["granted"] == 1400 and up.json()["dryRun"] is False
    assert {r["kind"] for r in up.json()["rows"]} == {"plan", "upgrade"}
    s = api.state(user)
    assert s["plan"] == "professional" and s["balance"]["total"] == 1500 and s["softCap"] == 4500

    down = api.http.post("/api/credits-plan", json={"plan": "base", "userId": user}, headers=a).json()
    assert down["trimmed"] == 1200 and down["granted"] == 0 and down["balance"] == balance(300, 300)
    # switching up again this month grants nothing new (rule 3)
    again = api.http.post("/api/credits-plan", json={"plan": "professional", "userId": user}, headers=a).json()
    assert again["granted"] == 0


def test_plan_errors(api: Api, user: str):
    bad = {"plan": "gold", "dryRun": True}
    e = err(api.http.post("/api/credits-plan", json=bad, headers=api.auth(user)), 400, "unknown_plan")
    assert "gold" in e["message"]
    err(api.http.post("/api/credits-plan", json={"dryRun": True}, headers=api.auth(user)), 400, "bad_request")
    err(api.http.post("/api/credits-plan", json={"plan": "base"}), 401, "unauthorized")
