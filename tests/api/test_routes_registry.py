"""Public routes and the registry admin routes of SPEC §5 over real HTTP: statuses, shapes and error bodies."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api, err

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
