"""Fixtures of the HTTP API tests: real ``streamlit run app.py`` servers, Clerk and Stripe stand-ins.

Servers (each started once, they cost seconds):

* ``api`` (session): Clerk JWKS mode with ``CLERK_AUTHORIZED_PARTIES``, the
  admin secret, FakeStripe, ``CZ_CREDITS_ENFORCE=1``, a SQLite ledger;
* ``pem_api`` (session, lazily): ``CLERK_JWT_KEY`` (PEM) mode, warn-only,
  no admin secret, no Stripe;
* ``bare_api`` (session, lazily): nothing configured.

Every response a test client receives is checked for configured secrets and
stack traces (an httpx event hook); the server logs are scanned by
``test_zz_logs.py``. Tests use fresh user ids (``uid()``), so they can share
one server.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from credits_core import SqliteStore
from tests.servers import StreamlitServer, streamlit_server
from tests.standins.clerk_jwks import ClerkStandIn, pem_of
from tests.standins.stripe import FakeStripe

AZP = "https://app.example.test"

# Every secret handed to a server of this session, and every server log file.
SECRETS: set[str] = set()
LOGS: list[Path] = []


JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.")


def assert_log_clean(path: Path) -> None:
    """No configured secret, JWT or Stripe key in the server log at ``path``."""
    text = path.read_text(errors="replace")
    for secret in SECRETS:
        assert secret not in text, f"a secret is in {path.name}"
    assert not JWT.search(text), f"a JWT is in {path.name}"
    assert "sk_test_" not in text and "whsec_" not in text, path.name


@pytest.fixture(scope="session", autouse=True)
def _logs_hold_no_secret() -> Iterator[None]:
    """After every server of the session has stopped: scan all their logs."""
    yield
    for path in LOGS:
        assert_log_clean(path)


def uid(prefix: str = "user") -> str:
    """A fresh Clerk-like user id."""
    return f"{prefix}_{secrets.token_hex(6)}"


def check_no_secret(text: str) -> None:
    """Fail if a configured secret or a Python traceback appears in ``text``."""
    for secret in SECRETS:
        assert secret not in text, "a configured secret leaked"
    assert "Traceback (most recent call last)" not in text


def _hook(response: httpx.Response) -> None:
    response.read()
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    check_no_secret(response.text + "\n" + headers)


def _async_hook_factory():
    async def hook(response: httpx.Response) -> None:
        await response.aread()
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        check_no_secret(response.text + "\n" + headers)

    return hook


def checked_client(base_url: str, **kw: Any) -> httpx.Client:
    """An httpx client whose every response is checked for secrets and stack traces."""
    return httpx.Client(base_url=base_url, timeout=60, event_hooks={"response": [_hook]}, **kw)


def checked_async_client(base_url: str, **kw: Any) -> httpx.AsyncClient:
    """The async twin of ``checked_client``."""
    return httpx.AsyncClient(base_url=base_url, timeout=60, event_hooks={"response": [_async_hook_factory()]}, **kw)


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


@dataclass
class Api:
    """One running server plus what tests need to talk to it."""

    server: StreamlitServer
    http: httpx.Client
    ledger_path: Path
    clerk: ClerkStandIn | None = None
    admin_secret: str | None = None
    stripe: FakeStripe | None = None
    env: dict[str, str] = field(default_factory=dict)
    signing_key: Any = None  # PEM mode: the private key of CLERK_JWT_KEY

    @property
    def url(self) -> str:
        return self.server.url

    def token(self, user: str, **kw: Any) -> str:
        """A valid session token for ``user`` (with the authorized party)."""
        assert self.clerk is not None
        if self.signing_key is not None:
            kw.setdefault("key", self.signing_key)
        else:
            kw.setdefault("azp", AZP)
        return self.clerk.mint(user, **kw)

    def auth(self, user: str, **kw: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user, **kw)}"}

    def admin(self) -> dict[str, str]:
        assert self.admin_secret is not None
        return {"x-cz-registry-admin": self.admin_secret}

    @contextmanager
    def store(self) -> Iterator[SqliteStore]:
        """The server's ledger file, opened by the test with ``credits_core.SqliteStore``."""
        store = SqliteStore(self.ledger_path)
        try:
            yield store
        finally:
            store.close()

    def debit(self, user: str, key: str, tool: str = "ask_ai") -> httpx.Response:
        return self.http.post("/api/credits-debit", json={"tool": tool, "idempotencyKey": key}, headers=self.auth(user))

    def state(self, user: str, limit: int = 20) -> dict[str, Any]:
        r = self.http.get(f"/api/credits-state?limit={limit}", headers=self.auth(user))
        assert r.status_code == 200, r.text
        return r.json()


def _start(stack: ExitStack, env: dict[str, str], log_dir: Path) -> StreamlitServer:
    SECRETS.update(v for k, v in env.items() if k in _SECRET_VARS and v)
    server = stack.enter_context(streamlit_server(env, log_dir=log_dir, lifetime_s=900))
    LOGS.append(server.log_path)
    return server


_SECRET_VARS = ("CLERK_SECRET_KEY", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "CZ_REGISTRY_ADMIN_SECRET")


@pytest.fixture(scope="session")
def clerk() -> Iterator[ClerkStandIn]:
    with ClerkStandIn(lifetime_s=900) as standin:
        yield standin


@pytest.fixture(scope="session")
def fake_stripe() -> Iterator[FakeStripe]:
    with FakeStripe(
        secret_key="sk_test_" + secrets.token_hex(12),
        webhook_secret="whsec_" + secrets.token_hex(16),
        lifetime_s=900,
    ) as fake:
        yield fake


@pytest.fixture(scope="session")
def api(clerk: ClerkStandIn, fake_stripe: FakeStripe, tmp_path_factory, artifacts_dir: Path) -> Iterator[Api]:
    """The main server: everything configured, enforce mode."""
    ledger = tmp_path_factory.mktemp("api-main") / "ledger.sqlite3"
    admin = "adm_" + secrets.token_hex(16)
    env = {
        "CZ_LEDGER": "sqlite",
        "CZ_LEDGER_PATH": str(ledger),
        "CZ_CREDITS_ENFORCE": "1",
        "CZ_STARTER_PLAN": "base",  # these tests start users on Base; test_paid_plans.py covers "none"
        "CZ_REGISTRY_ADMIN_SECRET": admin,
        "CLERK_SECRET_KEY": clerk.secret_key,
        "CLERK_JWKS_URL": clerk.url,
        "CLERK_AUTHORIZED_PARTIES": AZP,
        "STRIPE_SECRET_KEY": fake_stripe.secret_key,
        "STRIPE_WEBHOOK_SECRET": fake_stripe.webhook_secret,
        "STRIPE_API_BASE": fake_stripe.url,
    }
    SECRETS.update({clerk.secret_key, fake_stripe.secret_key, fake_stripe.webhook_secret, admin})
    with ExitStack() as stack:
        server = _start(stack, env, artifacts_dir / "api")
        fake_stripe.set_webhook_url(f"{server.url}/api/stripe-webhook")
        http = stack.enter_context(checked_client(server.url))
        yield Api(server, http, ledger, clerk=clerk, admin_secret=admin, stripe=fake_stripe, env=env)


@pytest.fixture(scope="session")
def pem_api(clerk: ClerkStandIn, tmp_path_factory, artifacts_dir: Path) -> Iterator[Api]:
    """CLERK_JWT_KEY (networkless) mode, warn-only, no admin secret, no Stripe."""
    ledger = tmp_path_factory.mktemp("api-pem") / "ledger.sqlite3"
    key = clerk.key  # the current signing key; the JWKS test may rotate later
    env = {"CZ_LEDGER": "sqlite", "CZ_LEDGER_PATH": str(ledger), "CLERK_JWT_KEY": pem_of(key), "CZ_STARTER_PLAN": "base"}
    with ExitStack() as stack:
        server = _start(stack, env, artifacts_dir / "api")
        http = stack.enter_context(checked_client(server.url))
        yield Api(server, http, ledger, clerk=clerk, env=env, signing_key=key)


@pytest.fixture(scope="session")
def bare_api(tmp_path_factory, artifacts_dir: Path) -> Iterator[Api]:
    """No Clerk, no admin secret, no Stripe."""
    ledger = tmp_path_factory.mktemp("api-bare") / "ledger.sqlite3"
    env = {"CZ_LEDGER": "sqlite", "CZ_LEDGER_PATH": str(ledger)}
    with ExitStack() as stack:
        server = _start(stack, env, artifacts_dir / "api")
        http = stack.enter_context(checked_client(server.url))
        yield Api(server, http, ledger, env=env)


@pytest.fixture
def user() -> str:
    """A fresh user id for one test."""
    return uid()


TEN = "test_ten"  # costs 10 credits: a new Base user (100 included) can afford exactly 10
BIG = "test_big"  # costs more than any test balance


@pytest.fixture(scope="session")
def priced_tools(api: Api) -> dict[str, int]:
    """Add two test tools to the main server's registry (a patch through the admin route)."""
    patch = {
        "tools": [
            {"id": TEN, "label": "Test tool (10)", "credits": 10, "category": "Test"},
            {"id": BIG, "label": "Test tool (big)", "credits": 1_000_000, "category": "Test"},
        ]
    }
    r = api.http.post("/api/action-registry-admin", json={"patch": patch}, headers=api.admin())
    assert r.status_code == 200, r.text
    return {TEN: 10, BIG: 1_000_000}
