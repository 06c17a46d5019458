"""The state and plan routes of SPEC §5 over real HTTP: statuses, shapes and error bodies."""

from __future__ import annotations

from credits_core.models import ROW_PREFIX
from tests.api.conftest import Api, balance, err, uid

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
