"""Failures that cannot be provoked from outside a real server: the store down, a bug.

These run the same ``create_api()`` in-process (Starlette's TestClient) with a
stand-in service that fails on purpose.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterator

import jwt
import pytest

with warnings.catch_warnings():  # "use httpx2" notice of Starlette's TestClient
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from credits_core.errors import LedgerUnavailable
from credits_core.runtime import reset_shared
from tests.standins.clerk_jwks import ClerkStandIn, pem_of, rsa_key

SECRET = "sk_test_" + "S3cr3t" * 6
ADMIN = "adm_inprocess_secret_value"


class _BrokenService:
    """Raises what a failing store or a bug would raise."""

    def matrix(self):
        raise LedgerUnavailable("the ledger is busy; try again; nothing was written", reason="busy")

    def debit(self, user_id, tool, key):
        raise RuntimeError(f"unexpected failure talking to Stripe with {SECRET} for {user_id}")

    def state(self, user_id, tail=20):
        raise KeyError("boom")

    async def debit_async(self, user_id, tool, key):  # the async routes' calls fail the same way
        return self.debit(user_id, tool, key)

    async def state_async(self, user_id, tail=20):
        return self.state(user_id, tail)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, _Capture]]:
    key = rsa_key("inprocess")
    monkeypatch.setenv("CZ_LEDGER", "memory")
    monkeypatch.setenv("CLERK_JWT_KEY", pem_of(key))
    monkeypatch.setenv("STRIPE_SECRET_KEY", SECRET)
    monkeypatch.setenv("CZ_REGISTRY_ADMIN_SECRET", ADMIN)
    reset_shared()
    from credits_api import context, create_api

    monkeypatch.setattr(context, "shared_service", lambda: _BrokenService())
    capture = _Capture()
    logger = logging.getLogger("credits_api")
    logger.addHandler(capture)
    try:
        with TestClient(create_api(), raise_server_exceptions=False) as c:
            now = int(time.time())
            token = jwt.encode({"sub": "user_x", "exp": now + 300, "iat": now}, key, algorithm="RS256")
            c.headers["Authorization"] = f"Bearer {token}"
            yield c, capture
    finally:
        logger.removeHandler(capture)
        reset_shared()


def test_ledger_unavailable_is_503(client):
    c, _ = client
    r = c.get("/credits-matrix")
    assert r.status_code == 503
    assert r.json() == {
        "error": {
            "code": "ledger_unavailable",
            "message": "the ledger is busy; try again; nothing was written",
            "reason": "busy",
        }
    }


def test_unknown_exception_is_a_generic_500_and_a_redacted_log(client):
    c, capture = client
    r = c.post("/credits-debit", json={"tool": "ask_ai", "idempotencyKey": "k1"})
    assert r.status_code == 500
    error = r.json()["error"]
    assert error["code"] == "internal_error" and "incident" in error["message"]
    assert SECRET not in r.text and "RuntimeError" not in r.text and "Traceback" not in r.text
    logged = "\n".join(capture.lines)
    assert "RuntimeError" in logged and "Traceback" in logged  # ops get the traceback...
    assert SECRET not in logged  # ...without the secret
    assert error["message"].split("incident ")[1].split()[0] in logged  # tied by the incident id
    r = c.get("/credits-state")
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"


def test_clerk_keys_unreachable_is_503_auth_unavailable(monkeypatch: pytest.MonkeyPatch):
    with ClerkStandIn(lifetime_s=60) as clerk:
        clerk.fail_status = 500
        monkeypatch.setenv("CZ_LEDGER", "memory")
        monkeypatch.setenv("CLERK_SECRET_KEY", clerk.secret_key)
        monkeypatch.setenv("CLERK_JWKS_URL", clerk.url)
        reset_shared()
        try:
            from credits_api import create_api

            with TestClient(create_api(), raise_server_exceptions=False) as c:
                r = c.get("/credits-state", headers={"Authorization": f"Bearer {clerk.mint('user_1')}"})
        finally:
            reset_shared()
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "auth_unavailable"
    assert "www-authenticate" not in r.headers  # not the caller's fault: no sign-in challenge
    assert clerk.secret_key not in r.text
