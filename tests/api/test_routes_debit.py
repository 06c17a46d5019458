"""The debit and refund routes of SPEC §5 over real HTTP: statuses, shapes, replays and error bodies."""

from __future__ import annotations

import json

from tests.api.conftest import BIG, TEN, Api, balance, err, uid

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
