"""Hold, settle and release over real HTTP (enforce mode, SQLite): shapes, replays byte for byte, 402, 409."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api

UNITS = "test_units"  # 2 credits per unit, 4 units estimated: a hold reserves 8


@pytest.fixture(scope="module")
def unit_tool(api: Api) -> str:
    tool = {"id": UNITS, "label": "Test per-unit tool", "credits": 2, "unitCredits": 2, "estimatedUnits": 4, "category": "Test"}
    r = api.http.post("/api/action-registry-admin", json={"patch": {"tools": [tool]}}, headers=api.admin())
    assert r.status_code == 200, r.text
    return UNITS


def post(api: Api, user: str, route: str, body: dict) -> tuple[int, dict, str]:
    r = api.http.post(f"/api/{route}", json=body, headers=api.auth(user))
    return r.status_code, r.json(), r.text


def test_reserve_settle_release_and_state(api: Api, user: str, unit_tool: str):
    status, held, first_text = post(api, user, "credits-hold", {"tool": unit_tool, "holdKey": f"{user}-h1"})
    assert status == 200 and (held["status"], held["held"], held["available"]) == ("held", 8, 92)
    state = api.state(user)
    assert (state["available"], state["held"]) == (92, 8)
    assert state["holds"] == [{"holdKey": f"{user}-h1", "held": 8, "expiresAt": held["expiresAt"]}]
    status, again, text = post(api, user, "credits-hold", {"tool": unit_tool, "holdKey": f"{user}-h1"})
    assert again["replayed"] and text == first_text.replace('"replayed":false', '"replayed":true')
    status, settled, _ = post(api, user, "credits-settle", {"holdKey": f"{user}-h1", "units": 3})
    assert status == 200 and settled["status"] == "settled"
    receipt = settled["receipt"]
    assert (receipt["reserved"], receipt["charged"], receipt["released"], receipt["unitPrice"], receipt["units"]) == (8, 6, 2, 2, 3)
    assert receipt["balanceBefore"]["total"] == 100 and receipt["balanceAfter"]["total"] == 94
    assert api.state(user)["ledgerTail"][0]["receipt"] == receipt
    post(api, user, "credits-hold", {"tool": unit_tool, "holdKey": f"{user}-h2"})
    status, released, _ = post(api, user, "credits-release", {"holdKey": f"{user}-h2", "reason": "tool failed"})
    assert status == 200 and released["status"] == "released" and released["available"] == 94


def test_errors_of_holds(api: Api, user: str, unit_tool: str):
    status, body, _ = post(api, user, "credits-hold", {"tool": unit_tool, "holdKey": f"{user}-big", "units": 51})
    assert status == 402 and body["error"]["required"] == 102 and body["error"]["available"] == 100
    assert "topUp" in body["error"]
    post(api, user, "credits-hold", {"tool": unit_tool, "holdKey": f"{user}-k"})
    status, body, _ = post(api, user, "credits-hold", {"tool": unit_tool, "holdKey": f"{user}-k", "units": 5})
    assert status == 409 and body["error"]["code"] == "idempotency_conflict" and body["error"]["field"] == "units"
    status, body, _ = post(api, "someone-else", "credits-settle", {"holdKey": f"{user}-k", "units": 1})
    assert status == 409 and body["error"]["field"] == "userId"
    status, body, _ = post(api, user, "credits-settle", {"holdKey": f"{user}-none", "units": 1})
    assert status == 404
    post(api, user, "credits-settle", {"holdKey": f"{user}-k", "units": 1})
    status, body, _ = post(api, user, "credits-release", {"holdKey": f"{user}-k"})
    assert status == 409 and body["error"]["code"] == "hold_closed"
    r = api.http.post("/api/credits-hold", json={"tool": unit_tool, "holdKey": "x"})
    assert r.status_code == 401
