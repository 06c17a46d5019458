"""The Odoo 19 stand-in, driven with plain httpx over /jsonrpc and /json/2."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.standins.odoo import DEBUG_MARKER, MISSING_KEY_MSG, FakeOdoo

DB, LOGIN, KEY, UID = "credits", "admin", "test-api-key", 2


@pytest.fixture
def odoo() -> Iterator[FakeOdoo]:
    """A fresh stand-in per test, stopped afterwards."""
    with FakeOdoo(db=DB, login=LOGIN, api_key=KEY, uid=UID, lifetime_s=60) as fake:
        yield fake


@pytest.fixture
def client(odoo: FakeOdoo) -> Iterator[httpx.Client]:
    """An httpx client on the stand-in, with a short timeout."""
    with httpx.Client(base_url=odoo.url, timeout=5) as http:
        yield http


def jsonrpc(client: httpx.Client, service: str, method: str, *args: Any) -> dict:
    """One legacy JSON-RPC call; returns the whole envelope."""
    body = {"jsonrpc": "2.0", "method": "call", "id": 1, "params": {"service": service, "method": method, "args": args}}
    response = client.post("/jsonrpc", json=body)
    assert response.status_code == 200
    return response.json()


def execute_kw(client: httpx.Client, method: str, args: list, kwargs: dict | None = None, **auth: Any) -> dict:
    """``object.execute_kw`` on crm.lead; ``auth`` overrides db/uid/password."""
    creds = {"db": DB, "uid": UID, "password": KEY} | auth
    return jsonrpc(
        client,
        "object",
        "execute_kw",
        creds["db"],
        creds["uid"],
        creds["password"],
        "crm.lead",
        method,
        args,
        kwargs or {},
    )


def ok(envelope: dict) -> Any:
    """The ``result`` of a successful JSON-RPC envelope."""
    assert "error" not in envelope, envelope
    return envelope["result"]


def json2(client: httpx.Client, method: str, body: Any = None, key: str | None = KEY, **kw: Any) -> httpx.Response:
    """One JSON-2 call on crm.lead."""
    headers = {"X-Odoo-Database": DB}
    if key is not None:
        headers["Authorization"] = f"bearer {key}"
    return client.post(f"/json/2/crm.lead/{method}", json=body if body is not None else {}, headers=headers, **kw)


def names(rows: list[dict]) -> list[str]:
    """Sorted names of read rows."""
    return sorted(row["name"] for row in rows)


# -- versions and authentication ---------------------------------------------------


# -- ODOO_NOTES.md, one test per note (named after it) ------------------------------------


def test_note_web_version_and_common_version_answer_19_0(client: httpx.Client) -> None:
    assert client.get("/web/version").json() == {"version_info": [19, 0, 0, "final", 0, ""], "version": "19.0"}
    result = ok(jsonrpc(client, "common", "version"))
    assert result["protocol_version"] == 1
    assert result["server_version_info"] == [19, 0, 0, "final", 0, ""] and result["server_version"] == "19.0"


def test_note_authenticate_takes_the_api_key_and_a_wrong_key_is_false(client: httpx.Client) -> None:
    assert ok(jsonrpc(client, "common", "authenticate", DB, LOGIN, KEY, {})) == UID
    assert ok(jsonrpc(client, "common", "authenticate", DB, LOGIN, "wrong", {})) is False
    assert ok(jsonrpc(client, "common", "authenticate", DB, "someone", KEY, {})) is False
    error = jsonrpc(client, "common", "authenticate", "nope", LOGIN, KEY, {})["error"]
    assert error["code"] == 0 and error["message"] == "Odoo Server Error"
    assert error["data"]["name"] == "psycopg2.OperationalError"
    assert 'database "nope" does not exist' in error["data"]["message"]


def test_note_execute_kw_with_an_unknown_uid_is_missing_error(client: httpx.Client) -> None:
    denied = execute_kw(client, "search", [[]], password="wrong")["error"]["data"]
    assert (denied["name"], denied["message"]) == ("odoo.exceptions.AccessDenied", "Access Denied")
    missing = execute_kw(client, "search", [[]], uid=99)["error"]["data"]
    assert missing["name"] == "odoo.exceptions.MissingError"
    assert missing["message"] == "Record does not exist or has been deleted.\n(Record: res.users(99,), User: 99)"


def test_error_envelope_carries_a_debug_traceback(client: httpx.Client) -> None:
    data = execute_kw(client, "create", [{"name": "x", "nope": 1}])["error"]["data"]
    assert set(data) == {"name", "message", "arguments", "context", "debug"}
    assert DEBUG_MARKER in data["debug"] and data["debug"].startswith("Traceback")


def test_note_json2_without_a_key_is_401_user_not_authenticated(odoo: FakeOdoo, client: httpx.Client) -> None:
    missing = json2(client, "search", {"domain": []}, key=None)
    assert missing.status_code == 401 and missing.json()["message"] == MISSING_KEY_MSG
    assert missing.json()["name"] == "werkzeug.exceptions.Unauthorized"
    assert json2(client, "search", {"domain": []}, key="wrong").json()["message"] == "Invalid apikey"
    upper = client.post("/json/2/crm.lead/search", json={"domain": []}, headers={"Authorization": f"BEARER {KEY}"})
    assert upper.status_code == 200
    odoo.set_api_key("rotated")
    assert json2(client, "search", {"domain": []}).status_code == 401


def test_note_type_defaults_to_opportunity(client: httpx.Client) -> None:
    plain = ok(execute_kw(client, "create", [{"name": "no type"}]))
    lead = json2(client, "create", {"vals_list": [{"name": "lead", "type": "lead"}]}).json()[0]
    read = json2(client, "read", {"ids": [plain, lead], "fields": ["type"]}).json()
    assert [r["type"] for r in read] == ["opportunity", "lead"]


def test_note_user_id_is_the_salesperson_a_res_users_link(client: httpx.Client) -> None:
    rid = ok(execute_kw(client, "create", [{"name": "x"}]))
    [row] = ok(execute_kw(client, "read", [[rid], ["user_id"]]))
    assert row["user_id"] == [UID, "Administrator"]  # the API user, not a product user id
    refused = execute_kw(client, "create", [{"name": "y", "user_id": 12345}])["error"]["data"]
    assert refused["name"] == "odoo.exceptions.ValidationError"


@pytest.mark.parametrize("protocol", ["jsonrpc", "json2"])
def test_note_write_or_unlink_of_a_missing_id_is_missing_error_and_changes_nothing(
    odoo: FakeOdoo, client: httpx.Client, protocol: str
) -> None:
    rid = odoo.insert({"name": "kept", "expected_revenue": 1})
    text = f"Record does not exist or has been deleted.\n(Record: crm.lead(404,), User: {UID})"
    if protocol == "json2":
        write = json2(client, "write", {"ids": [rid, 404], "vals": {"name": "changed"}})
        unlink = json2(client, "unlink", {"ids": [rid, 404]})
        assert (write.status_code, unlink.status_code) == (404, 404)
        errors = [write.json(), unlink.json()]
    else:
        errors = [
            execute_kw(client, "write", [[rid, 404], {"name": "changed"}])["error"]["data"],
            execute_kw(client, "unlink", [[rid, 404]])["error"]["data"],
        ]
    assert [(e["name"], e["message"]) for e in errors] == [("odoo.exceptions.MissingError", text)] * 2
    assert names(odoo.rows()) == ["kept"]


def test_note_keyword_only_create_over_jsonrpc_fails_with_index_error_and_rolls_back(
    odoo: FakeOdoo, client: httpx.Client
) -> None:
    error = execute_kw(client, "create", [], {"vals_list": [{"name": "a"}, {"name": "b"}]})["error"]
    assert (error["code"], error["data"]["name"]) == (0, "builtins.IndexError")
    assert error["data"]["message"] == "list index out of range"
    assert odoo.rows(active_test=False) == []  # inserted, then rolled back whole
    assert ok(execute_kw(client, "create", [[{"name": "c"}]])) == [3]  # the two ids drawn stay consumed
    assert json2(client, "create", {"vals_list": [{"name": "d"}]}).json() == [4]  # JSON-2 takes it by name


@pytest.mark.parametrize("major", [19, 18])
def test_note_jsonrpc_error_envelope_code_0_and_200_on_odoo_18(major: int) -> None:
    stand_in = FakeOdoo(db=DB, login=LOGIN, api_key=KEY, uid=UID, lifetime_s=60, major=major)
    with stand_in as fake, httpx.Client(base_url=fake.url, timeout=5) as http:
        envelope = execute_kw(http, "write", [[404], {"name": "x"}])
        version = http.get("/web/version").json()["version_info"]
        json2_status = json2(http, "search", {"domain": []}).status_code
    assert envelope["jsonrpc"] == "2.0" and envelope["id"] == 1
    assert envelope["error"]["code"] == (0 if major == 19 else 200)
    assert envelope["error"]["message"] == "Odoo Server Error"
    assert set(envelope["error"]["data"]) == {"name", "message", "arguments", "context", "debug"}
    assert version[0] == major and json2_status == (200 if major == 19 else 404)


# -- records over both protocols --------------------------------------------------------


def test_crud_over_jsonrpc(odoo: FakeOdoo, client: httpx.Client) -> None:
    one = ok(execute_kw(client, "create", [{"name": "a", "expected_revenue": 5, "partner_name": "u1"}]))
    more = ok(execute_kw(client, "create", [[{"name": "b", "type": "lead"}, {"name": "c"}]]))
    assert isinstance(one, int) and more == [one + 1, one + 2]
    [row] = ok(execute_kw(client, "read", [[one], ["name", "type", "expected_revenue", "user_id", "create_date"]]))
    assert row["type"] == "opportunity" and row["expected_revenue"] == 5.0
    assert row["user_id"] == [UID, "Administrator"]
    assert time.strptime(row["create_date"], "%Y-%m-%d %H:%M:%S")
    assert ok(execute_kw(client, "write", [[one], {"name": "a2"}])) is True
    found = ok(execute_kw(client, "search_read", [[["type", "=", "lead"]]], {"fields": ["name"]}))
    assert found == [{"id": one + 1, "name": "b"}]
    assert ok(execute_kw(client, "unlink", [[one + 2]])) is True
    assert names(odoo.rows()) == ["a2", "b"]


def test_crud_over_json2(odoo: FakeOdoo, client: httpx.Client) -> None:
    ids = json2(client, "create", {"vals_list": [{"name": "a"}, {"name": "b", "expected_revenue": 2.5}]}).json()
    assert json2(client, "create", {"vals_list": {"name": "c"}}).json() == [ids[1] + 1]
    assert json2(client, "write", {"ids": [ids[0]], "vals": {"name": "a2"}}).json() is True
    read = json2(client, "read", {"ids": ids, "fields": ["name", "expected_revenue"]}).json()
    assert read == [
        {"id": ids[0], "name": "a2", "expected_revenue": 0.0},
        {"id": ids[1], "name": "b", "expected_revenue": 2.5},
    ]
    assert json2(client, "search_count", {"domain": [["name", "like", "a"]]}).json() == 1
    assert json2(client, "unlink", {"ids": [ids[1]]}).json() is True
    assert json2(client, "search", {"domain": [], "order": "id asc"}).json() == [ids[0], ids[1] + 1]


def test_name_is_not_unique(client: httpx.Client) -> None:
    json2(client, "create", {"vals_list": [{"name": "CZ_SMCR|debit|k"}, {"name": "CZ_SMCR|debit|k"}]})
    assert json2(client, "search_count", {"domain": [["name", "=", "CZ_SMCR|debit|k"]]}).json() == 2


def test_note_archived_rows_are_skipped_unless_active_test_is_false(odoo: FakeOdoo, client: httpx.Client) -> None:
    ids = json2(
        client,
        "create",
        {"vals_list": [{"name": "kept", "expected_revenue": 1}, {"name": "gone", "expected_revenue": 10}]},
    ).json()
    json2(client, "write", {"ids": [ids[1]], "vals": {"active": False}})
    assert names(json2(client, "search_read", {"domain": [], "fields": ["name"]}).json()) == ["kept"]
    everything = {"domain": [], "fields": ["name"], "context": {"active_test": False}}
    assert names(json2(client, "search_read", everything).json()) == ["gone", "kept"]
    archived = {"domain": [["active", "=", False]], "fields": ["name"]}
    assert names(json2(client, "search_read", archived).json()) == ["gone"]
    total = json2(client, "formatted_read_group", {"domain": [], "aggregates": ["expected_revenue:sum"]}).json()
    assert total == [{"expected_revenue:sum": 1.0, "__extra_domain": [[1, "=", 1]]}]
    assert len(json2(client, "read", {"ids": ids, "fields": ["name"]}).json()) == 2
    assert json2(client, "search", {"domain": []}).json() == [ids[0]]
    assert json2(client, "search_count", {"domain": []}).json() == 1
    assert json2(client, "search_count", {"domain": [], "context": {"active_test": False}}).json() == 2
    legacy = ok(execute_kw(client, "read_group", [[], ["expected_revenue:sum"], []], {"lazy": False}))
    assert [g["expected_revenue"] for g in legacy] == [1.0]
    every = ok(
        execute_kw(
            client, "read_group", [[], ["expected_revenue:sum"], []], {"lazy": False, "context": {"active_test": False}}
        )
    )
    assert [g["expected_revenue"] for g in every] == [11.0]
    body = {"domain": [], "aggregates": ["expected_revenue:sum"], "context": {"active_test": False}}
    assert json2(client, "formatted_read_group", body).json()[0]["expected_revenue:sum"] == 11.0


# -- aggregates ---------------------------------------------------------------------------


@pytest.fixture
def ledger(odoo: FakeOdoo) -> FakeOdoo:
    """Rows for two users plus one without a partner_name."""
    for user, delta in (("u1", 10), ("u1", -3), ("u2", 7), (None, 1)):
        odoo.insert({"name": f"r{delta}", "partner_name": user or False, "expected_revenue": delta})
    return odoo


def test_note_read_group_sums_by_char_one_group_per_value_with_its_domain(
    ledger: FakeOdoo, client: httpx.Client
) -> None:
    groups = ok(execute_kw(client, "read_group", [[], ["expected_revenue:sum"], ["partner_name"]]))
    by_name = {group["partner_name"]: group for group in groups}
    assert by_name["u1"] == {
        "partner_name": "u1",
        "partner_name_count": 2,
        "expected_revenue": 7.0,
        "__domain": [["partner_name", "=", "u1"]],
    }
    assert by_name[False]["expected_revenue"] == 1.0
    assert [g["partner_name"] for g in groups] == ["u1", "u2", False]
    flat = ok(
        execute_kw(
            client,
            "read_group",
            [[["expected_revenue", ">", 0]], ["expected_revenue"], ["partner_name"]],
            {"lazy": False},
        )
    )
    assert flat[0]["__count"] == 1
    assert flat[0]["__domain"] == ["&", ["expected_revenue", ">", 0], ["partner_name", "=", "u1"]]


def test_note_formatted_read_group_sums_by_char_with_its_extra_domain(ledger: FakeOdoo, client: httpx.Client) -> None:
    body = {"domain": [], "groupby": ["partner_name"], "aggregates": ["expected_revenue:sum", "__count"]}
    groups = json2(client, "formatted_read_group", body).json()
    assert groups[0] == {
        "partner_name": "u1",
        "expected_revenue:sum": 7.0,
        "__count": 2,
        "__extra_domain": [["partner_name", "=", "u1"]],
    }
    assert groups[-1]["partner_name"] is False and groups[-1]["__extra_domain"] == [["partner_name", "=", False]]
    ordered = json2(client, "formatted_read_group", body | {"order": "expected_revenue:sum desc", "limit": 1}).json()
    assert ordered[0]["partner_name"] == "u1"
    having = json2(client, "formatted_read_group", body | {"having": [["__count", ">", 1]]}).json()
    assert [g["partner_name"] for g in having] == ["u1"]


def test_other_aggregates(ledger: FakeOdoo, client: httpx.Client) -> None:
    aggs = [
        "expected_revenue:max",
        "expected_revenue:min",
        "partner_name:count",
        "partner_name:count_distinct",
        "__count",
    ]
    [row] = json2(client, "formatted_read_group", {"domain": [], "aggregates": aggs}).json()
    assert [row[a] for a in aggs] == [10.0, -3.0, 3, 2, 4]


def test_group_by_create_date(odoo: FakeOdoo, client: httpx.Client) -> None:
    odoo.insert({"name": "jan", "expected_revenue": 1}, create_date="2025-01-31 23:00:00")
    odoo.insert({"name": "feb", "expected_revenue": 2}, create_date="2025-02-01 08:00:00")
    months = json2(
        client,
        "formatted_read_group",
        {"domain": [], "groupby": ["create_date:month"], "aggregates": ["expected_revenue:sum"]},
    ).json()
    assert months[0]["create_date:month"] == ["2025-01-01 00:00:00", "January 2025"]
    assert months[0]["__extra_domain"] == [
        "&",
        ["create_date", ">=", "2025-01-01 00:00:00"],
        ["create_date", "<", "2025-02-01 00:00:00"],
    ]
    days = json2(
        client, "formatted_read_group", {"domain": [], "groupby": ["create_date:day"], "aggregates": ["__count"]}
    ).json()
    assert [d["create_date:day"][1] for d in days] == ["31 Jan 2025", "01 Feb 2025"]
    legacy = ok(execute_kw(client, "read_group", [[], ["expected_revenue"], ["create_date"]]))
    assert [g["create_date"] for g in legacy] == ["January 2025", "February 2025"]
    newer = {"domain": [["create_date", ">=", "2025-02-01 00:00:00"]], "fields": ["name"]}
    assert names(json2(client, "search_read", newer).json()) == ["feb"]


# -- domains and order -------------------------------------------------------------------------


@pytest.fixture
def people(odoo: FakeOdoo) -> FakeOdoo:
    """Three rows with distinct char/number values."""
    odoo.insert({"name": "Alpha", "partner_name": "u_1", "expected_revenue": 1, "priority": "1"})
    odoo.insert({"name": "beta", "partner_name": "u_2", "expected_revenue": 5})
    odoo.insert({"name": "Gamma", "partner_name": False, "expected_revenue": 9})
    return odoo


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ([["name", "=", "beta"]], ["beta"]),
        ([["name", "!=", "beta"]], ["Alpha", "Gamma"]),
        ([["partner_name", "=", False]], ["Gamma"]),
        ([["partner_name", "!=", False]], ["Alpha", "beta"]),
        ([["name", "in", ["Alpha", "Gamma", "zzz"]]], ["Alpha", "Gamma"]),
        ([["name", "not in", ["Alpha"]]], ["Gamma", "beta"]),
        ([["expected_revenue", "<", 5]], ["Alpha"]),
        ([["expected_revenue", "<=", 5]], ["Alpha", "beta"]),
        ([["expected_revenue", ">", 5]], ["Gamma"]),
        ([["expected_revenue", ">=", 5]], ["Gamma", "beta"]),
        ([["name", "like", "amm"]], ["Gamma"]),
        ([["name", "like", "ALP"]], []),
        ([["name", "ilike", "ALP"]], ["Alpha"]),
        ([["name", "=like", "G%"]], ["Gamma"]),
        ([["name", "=ilike", "b%"]], ["beta"]),
        ([["partner_name", "not ilike", "u_1"]], ["Gamma", "beta"]),
        (["|", ["name", "=", "Alpha"], ["expected_revenue", ">", 8]], ["Alpha", "Gamma"]),
        (["&", ["name", "ilike", "a"], "!", ["expected_revenue", "=", 9]], ["Alpha", "beta"]),
        ([["name", "ilike", "a"], ["expected_revenue", "<", 9]], ["Alpha", "beta"]),
        ([["priority", "=", "1"]], ["Alpha"]),
    ],
)
def test_domain_operators(people: FakeOdoo, client: httpx.Client, domain: list, expected: list[str]) -> None:
    rows = json2(client, "search_read", {"domain": domain, "fields": ["name"]}).json()
    assert names(rows) == sorted(expected)


def test_order_and_paging(people: FakeOdoo, client: httpx.Client) -> None:
    def order(spec: str | None, **extra: Any) -> list[str]:
        body = {"domain": [], "fields": ["name"]} | ({"order": spec} if spec else {}) | extra
        return [r["name"] for r in json2(client, "search_read", body).json()]

    assert order(None) == ["Alpha", "Gamma", "beta"]  # crm.lead _order: priority desc, id desc
    assert order("id desc") == ["Gamma", "beta", "Alpha"]
    assert order("create_date asc, id asc", offset=1, limit=1) == ["beta"]
    assert order("partner_name asc") == ["Alpha", "beta", "Gamma"]  # NULLs last
    bad = json2(client, "search_read", {"domain": [], "order": "nope desc"})
    assert bad.status_code == 500 and bad.json()["message"] == "Invalid field 'nope' on model 'crm.lead'"


# -- errors -------------------------------------------------------------------------------------


def test_note_invalid_field_messages_say_in_on_and_on_model(client: httpx.Client) -> None:
    create = execute_kw(client, "create", [{"name": "x", "ref": "nope"}])["error"]["data"]
    assert (create["name"], create["message"]) == ("builtins.ValueError", "Invalid field 'ref' in 'crm.lead'")
    read = json2(client, "search_read", {"domain": [], "fields": ["name", "zz"]})
    assert read.status_code == 500 and read.json()["message"] == "Invalid field 'zz' on 'crm.lead'"
    write = json2(client, "write", {"ids": [], "vals": {"zz": 1}})
    assert write.json()["message"] == "Invalid field 'zz' in 'crm.lead'"
    order = json2(client, "search_read", {"domain": [], "fields": ["name"], "order": "zz desc"})
    assert order.json()["message"] == "Invalid field 'zz' on model 'crm.lead'"
    group = json2(client, "formatted_read_group", {"domain": [], "groupby": ["zz"], "aggregates": ["__count"]})
    assert group.json()["message"] == "Invalid field 'zz' on model 'crm.lead'"
    agg = json2(client, "formatted_read_group", {"domain": [], "aggregates": ["zz:sum"]})
    assert agg.json()["message"].startswith("Invalid field 'zz' on model 'crm.lead'")


def test_note_a_failing_request_is_rolled_back_whole_and_a_constraint_failure_consumes_an_id(
    odoo: FakeOdoo, client: httpx.Client
) -> None:
    bad = json2(client, "create", {"vals_list": [{"name": "ok"}, {"name": "bad", "type": "nope"}]})
    assert bad.status_code == 500 and "Wrong value for crm.lead.type" in bad.json()["message"]
    no_name = json2(client, "create", {"vals_list": [{"name": "ok"}, {"partner_name": "x"}]})
    assert no_name.status_code == 422 and no_name.json()["name"] == "odoo.exceptions.ValidationError"
    assert odoo.rows() == []
    assert json2(client, "create", {"vals_list": [{"name": "next"}]}).json() == [3]  # ids were consumed


def test_note_json2_non_object_body_is_422_and_wrong_content_type_is_415_html(client: httpx.Client) -> None:
    wrong_type = client.post(
        "/json/2/crm.lead/search_read",
        content=b"{}",
        headers={"Authorization": f"bearer {KEY}", "Content-Type": "text/plain"},
    )
    assert wrong_type.status_code == 415 and wrong_type.headers["content-type"].startswith("text/html")
    not_object = json2(client, "search_read", [])
    assert (not_object.status_code, not_object.json()["message"]) == (422, "missing a required argument: 'domain'")
    assert json2(client, "search", {"ids": [1], "domain": []}).status_code == 422
    assert json2(client, "create", {"vals": {"name": "x"}}).status_code == 422
    assert json2(client, "search_read", "text").status_code == 400
    assert json2(client, "no_such_method", {}).status_code == 404
    other = client.post("/json/2/res.partner/search", json={"domain": []}, headers={"Authorization": f"bearer {KEY}"})
    assert other.status_code == 404


def test_note_description_is_html_and_rewritten(client: httpx.Client) -> None:
    cases = {
        "<blink>x</blink>": "<p>x</p>",
        "<p>a</p><object data=x></object><embed src=y>": "<p>a</p>",
        "a<b": "<p>a&lt;b</p>",
        "<div>note</div>": "<div>note</div>",
        "x<script>alert(1)</script>y": "<p>xy</p>",
        '<a href="javascript:alert(1)">k</a>': '<a href="">k</a>',
        "<!-- c --><p>t</p><iframe src=x></iframe>": "<p>t</p>",
        '{"user": "u1"}': '<p>{"user": "u1"}</p>',
    }
    ids = json2(client, "create", {"vals_list": [{"name": "h", "description": text} for text in cases]}).json()
    read = json2(client, "read", {"ids": ids, "fields": ["description"]}).json()
    assert [r["description"] for r in read] == list(cases.values())


# -- faults, counting, life cycle ------------------------------------------------------------


def create_one(client: httpx.Client, name: str = "x") -> httpx.Response:
    """A JSON-2 create of one row."""
    return json2(client, "create", {"vals_list": [{"name": name}]})


@pytest.mark.parametrize("fault", ["refused", "timeout", "drop_after_commit"])
def test_connection_faults(odoo: FakeOdoo, client: httpx.Client, fault: str) -> None:
    odoo.inject(fault, methods={"create"}, hang_s=5)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError, httpx.ReadTimeout)):
        json2(client, "create", {"vals_list": [{"name": "x"}]}, timeout=0.3)
    assert len(odoo.rows()) == (1 if fault == "drop_after_commit" else 0)
    assert json2(client, "search_count", {"domain": []}).status_code == 200  # other methods unaffected


@pytest.mark.parametrize(
    ("fault", "status", "name"),
    [
        ("http500", 500, None),
        ("access_error", 403, "odoo.exceptions.AccessError"),
        ("validation_error", 422, "odoo.exceptions.ValidationError"),
    ],
)
def test_error_faults_do_no_work(
    odoo: FakeOdoo, client: httpx.Client, fault: str, status: int, name: str | None
) -> None:
    odoo.inject(fault)
    response = create_one(client)
    assert response.status_code == status
    if name:
        assert response.json()["name"] == name
        assert execute_kw(client, "create", [{"name": "y"}])["error"]["data"]["name"] == name
    else:
        assert response.headers["content-type"].startswith("text/html")
    assert odoo.rows() == []


def test_fault_rate_is_seeded_and_times_is_a_budget(odoo: FakeOdoo, client: httpx.Client) -> None:
    def outcomes() -> list[int]:
        odoo.inject("http500", rate=0.5, seed=7)
        return [json2(client, "search_count", {"domain": []}).status_code for _ in range(12)]

    first = outcomes()
    assert first == outcomes() and {200, 500} == set(first)
    odoo.inject("validation_error", times=1)
    assert [create_one(client).status_code for _ in range(3)] == [422, 200, 200]
    odoo.inject(None)


def test_round_trips_are_counted(odoo: FakeOdoo, client: httpx.Client) -> None:
    client.get("/web/version")
    jsonrpc(client, "common", "authenticate", DB, LOGIN, KEY, {})
    execute_kw(client, "search_read", [[]])
    create_one(client)
    assert odoo.calls() == [
        ("web", "version"),
        ("jsonrpc", "authenticate"),
        ("jsonrpc", "search_read"),
        ("json2", "create"),
    ]
    odoo.reset_calls()
    assert odoo.calls() == []


def test_latency_and_concurrent_creates(odoo: FakeOdoo, client: httpx.Client) -> None:
    odoo.set_latency(0.2)
    started = time.monotonic()

    def create_in_own_client() -> None:
        with httpx.Client(base_url=odoo.url, timeout=5) as own:
            create_one(own)

    threads = [threading.Thread(target=create_in_own_client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - started >= 0.2  # delayed (no upper bound: a busy machine is not a failure)
    assert sorted(row["id"] for row in odoo.rows()) == list(range(1, 9))


def test_stops_by_itself() -> None:
    fake = FakeOdoo(lifetime_s=3).start()
    with httpx.Client(base_url=fake.url, timeout=1) as http:
        assert http.get("/web/version").status_code == 200
        assert fake.stopped.wait(60)  # the lifetime timer fired (waits on the event, not on a clock)
        assert not fake.running
        with pytest.raises(httpx.TransportError):
            http.get("/web/version")
