"""The OpenAPI document describes what the routes really do (checked by schemathesis)."""

from __future__ import annotations

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import Api, check_no_secret, uid

SPEC_ROUTES = {
    "/credits-matrix": {"get"},
    "/action-registry": {"get"},
    "/action-registry-admin": {"post"},
    "/action-registry/versions": {"get"},
    "/credits-state": {"get"},
    "/credits-debit": {"post"},
    "/credits-refund": {"post"},
    "/credits-plan": {"post"},
    "/credits-checkout": {"post"},
    "/credits-checkout/confirm": {"post"},
    "/stripe-webhook": {"post"},
    "/credits-subscription": {"post"},
    "/credits-subscription/confirm": {"post"},
    "/credits-hold": {"post"},
    "/credits-settle": {"post"},
    "/credits-release": {"post"},
}
BEARER = {"/credits-state", "/credits-debit", "/credits-plan", "/credits-refund", "/credits-checkout", "/credits-checkout/confirm"}
BEARER |= {"/credits-subscription", "/credits-subscription/confirm", "/credits-hold", "/credits-settle", "/credits-release"}
ADMIN = {"/action-registry-admin", "/action-registry/versions", "/credits-refund", "/credits-state", "/credits-plan"}
EXAMPLES_PER_OPERATION = 30


def test_document_lists_every_route_with_security_and_errors(api: Api):
    r = api.http.get("/api/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["servers"] == [{"url": "/api"}]
    assert {p: set(ops) for p, ops in doc["paths"].items()} == SPEC_ROUTES
    schemes = doc["components"]["securitySchemes"]
    assert schemes["ClerkSession"] == {**schemes["ClerkSession"], "type": "http", "scheme": "bearer"}
    assert schemes["RegistryAdmin"] == {
        **schemes["RegistryAdmin"],
        "type": "apiKey",
        "in": "header",
        "name": "x-cz-registry-admin",
    }
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            responses = op["responses"]
            assert "422" not in responses, (method, path)
            assert {"200", "400", "500", "503"} <= set(responses), (method, path)
            for status, response in responses.items():
                if status != "200":
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/ErrorOut"
                    }
                    assert "example" in response["content"]["application/json"]
            names = {name for requirement in op.get("security", []) for name in requirement}
            assert ("ClerkSession" in names) == (path in BEARER), path
            assert ("RegistryAdmin" in names) == (path in ADMIN), path
            if path in BEARER:
                assert "401" in responses
    debit = doc["paths"]["/credits-debit"]["post"]
    assert {"402", "403", "409"} <= set(debit["responses"])
    assert debit["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/DebitIn"}


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]


def _fuzz(api: Api, headers: dict[str, str], only: set[str] | None = None) -> int:
    """Run positive and negative cases of every (or ``only`` these paths') operation; return the call count."""
    schema = schemathesis.openapi.from_url(f"{api.url}/api/openapi.json", timeout=30)
    session = requests.Session()
    calls = 0
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(v) for v in SPEC_ROUTES.values())
    for operation in operations:
        if only is not None and operation.path not in only:
            continue
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case) -> None:
                nonlocal calls
                calls += 1
                response = case.call_and_validate(
                    base_url=f"{api.url}/api", session=session, headers=headers, checks=CHECKS, timeout=30
                )
                check_no_secret(response.text)

            try:
                run()
            except Unsatisfiable:
                # nothing to make invalid (e.g. GET /credits-matrix has no parameters)
                assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
    return calls


def test_schemathesis_with_a_token(api: Api):
    """Every operation with a valid Clerk token (admin routes then answer 403)."""
    calls = _fuzz(api, api.auth(uid("schemathesis"), exp_in=1800))
    assert calls >= len(SPEC_ROUTES) * EXAMPLES_PER_OPERATION


def test_schemathesis_with_the_admin_header(api: Api):
    """The admin operations with the admin header; the registry is restored afterwards."""
    before = api.http.get("/api/action-registry").json()
    try:
        calls = _fuzz(api, {**api.auth(uid("schemathesis"), exp_in=1800), **api.admin()}, only=ADMIN)
        assert calls >= len(ADMIN) * EXAMPLES_PER_OPERATION
    finally:
        after = api.http.get("/api/action-registry").json()
        if {k: v for k, v in after.items() if k not in ("version", "updatedAt")} != {
            k: v for k, v in before.items() if k not in ("version", "updatedAt")
        }:
            r = api.http.post("/api/action-registry-admin", json=before, headers=api.admin())
            assert r.status_code == 200, r.text
