"""Configuration from environment variables, validated once at start-up.

A bad value is a :class:`~credits_core.errors.ConfigError` that names the
variable (never its value when it is a secret).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from .clock import Clock, FixedClock, SystemClock
from .errors import ConfigError

_TENANT = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
ODOO_VARS = ("ODOO_URL", "ODOO_DB", "ODOO_USERNAME", "ODOO_API_KEY")
ODOO_PROTOCOLS = ("jsonrpc", "json2")


@dataclass(frozen=True)
class OdooSettings:
    """Where the Odoo ledger is (``CZ_LEDGER=odoo``); the key never appears in a repr."""

    url: str
    db: str
    username: str
    api_key: str = field(repr=False)
    protocol: str = "jsonrpc"  # ODOO_PROTOCOL: jsonrpc (default) or json2


@dataclass(frozen=True)
class Settings:
    ledger: str = "sqlite"  # sqlite | odoo | memory
    ledger_path: str = "data/ledger.sqlite3"
    registry_path: str | None = None  # defaults to ledger_path (odoo: data/registry.sqlite3)
    enforce: bool = False
    tenant: str = "cityzeen"
    public_app_url: str = "http://localhost:8501"
    registry_admin_secret: str | None = field(default=None, repr=False)
    admin_users: frozenset[str] = frozenset()
    stripe_secret_key: str | None = field(default=None, repr=False)
    stripe_webhook_secret: str | None = field(default=None, repr=False)
    stripe_api_base: str | None = None
    clerk_jwt_key: str | None = field(default=None, repr=False)  # PEM, networkless; wins over the secret
    clerk_secret_key: str | None = field(default=None, repr=False)
    clerk_jwks_url: str = "https://api.clerk.com/v1/jwks"
    clerk_authorized_parties: tuple[str, ...] = ()
    clock_at: datetime | None = None  # CZ_CLOCK: freeze the ledger clock (tests, demos of a date)
    starter_plan: str = "none"  # plan of a signed-in user without a subscription (NO_PLAN)
    odoo: OdooSettings | None = None  # set when ledger == "odoo"
    ui_think_seconds: float = 0.6  # CZ_UI_THINK_SECONDS: how long Ask AI "thinks" (0 in tests)
    bench_routes: bool = False  # CZ_BENCH_ROUTES=1: mount the benchmark baselines (bench/ only)
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def account_url(self) -> str:
        return f"{self.public_app_url}/account#credits"

    @property
    def payments_enabled(self) -> bool:
        return bool(self.stripe_secret_key)

    def clock(self) -> Clock:
        """The ledger's clock: frozen at ``CZ_CLOCK`` when set, else the system's UTC clock."""
        return SystemClock() if self.clock_at is None else FixedClock(self.clock_at)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every variable of SPEC §8."""
    env = dict(os.environ if environ is None else environ)
    ledger = env.get("CZ_LEDGER", "sqlite").strip().lower() or "sqlite"
    if ledger not in ("sqlite", "odoo", "memory"):
        raise ConfigError("CZ_LEDGER must be 'sqlite' or 'odoo' ('memory' for tests)", variable="CZ_LEDGER")
    ledger_path = env.get("CZ_LEDGER_PATH", "").strip() or "data/ledger.sqlite3"
    return Settings(
        ledger=ledger,
        ledger_path=ledger_path,
        registry_path=env.get("CZ_REGISTRY_PATH", "").strip() or None,
        enforce=_flag(env, "CZ_CREDITS_ENFORCE"),
        tenant=_tenant(env),
        public_app_url=_url(env, "CZ_PUBLIC_APP_URL", "http://localhost:8501"),
        registry_admin_secret=_secret(env, "CZ_REGISTRY_ADMIN_SECRET", min_len=8),
        admin_users=frozenset(u.strip() for u in env.get("CZ_ADMIN_USERS", "").split(",") if u.strip()),
        stripe_secret_key=_secret(env, "STRIPE_SECRET_KEY", prefix=("sk_", "rk_")),
        stripe_webhook_secret=_secret(env, "STRIPE_WEBHOOK_SECRET", prefix=("whsec_",)),
        stripe_api_base=_url(env, "STRIPE_API_BASE", None),
        clerk_jwt_key=_pem(env, "CLERK_JWT_KEY"),
        clerk_secret_key=_secret(env, "CLERK_SECRET_KEY"),
        clerk_jwks_url=_url(env, "CLERK_JWKS_URL", "https://api.clerk.com/v1/jwks"),
        clerk_authorized_parties=tuple(
            p.strip() for p in env.get("CLERK_AUTHORIZED_PARTIES", "").split(",") if p.strip()
        ),
        starter_plan=_plan_id(env, "CZ_STARTER_PLAN", "none"),
        clock_at=_instant(env, "CZ_CLOCK"),
        odoo=load_odoo_settings(env) if ledger == "odoo" else None,
        ui_think_seconds=_seconds(env, "CZ_UI_THINK_SECONDS", 0.6, limit=10.0),
        bench_routes=_flag(env, "CZ_BENCH_ROUTES"),
        environ=env,
    )


def http_url(raw: str, name: str, *, example: str = "https://example.com") -> str:
    """The one URL rule of every configured URL: http(s), a host, no query or fragment; no trailing ``/``."""
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"{name} must be an http(s) URL without query or fragment, such as {example}", variable=name)
    return raw.strip().rstrip("/")


def load_odoo_settings(environ: Mapping[str, str]) -> OdooSettings:
    """The ``ODOO_*`` variables; missing or wrong ones → ``ConfigError`` naming them (never the key)."""
    values = {name: str(environ.get(name, "") or "").strip() for name in ODOO_VARS}
    missing = [name for name, value in values.items() if not value]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise ConfigError(
            f"{' and '.join(missing)} {verb} not set (CZ_LEDGER=odoo needs {', '.join(ODOO_VARS)})",
            variable=missing[0],
            missing=missing,
        )
    http_url(values["ODOO_URL"], "ODOO_URL", example="https://odoo.example.com")
    protocol = str(environ.get("ODOO_PROTOCOL", "") or "").strip().lower() or "jsonrpc"
    if protocol not in ODOO_PROTOCOLS:
        raise ConfigError(f"ODOO_PROTOCOL must be 'jsonrpc' or 'json2' (got {protocol!r})", variable="ODOO_PROTOCOL")
    return OdooSettings(
        values["ODOO_URL"], values["ODOO_DB"], values["ODOO_USERNAME"], values["ODOO_API_KEY"], protocol
    )


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be 1 or 0", variable=name)


def _seconds(env: Mapping[str, str], name: str, default: float, *, limit: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= limit:
        raise ConfigError(f"{name} must be a number of seconds from 0 to {limit:g}", variable=name)
    return value


def _pem(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    from .auth.keys import load_pem  # cryptography is only needed when a key is configured

    try:
        load_pem(raw)
    except ValueError:
        raise ConfigError(
            f"{name} is not a valid PEM RSA public key (use 'PEM Public Key' from the Clerk Dashboard, API keys page)",
            variable=name,
        ) from None
    return raw


def _instant(env: Mapping[str, str], name: str) -> datetime | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise ConfigError(f"{name} must be an ISO 8601 instant with a zone, e.g. 2027-01-01T00:00:30Z", variable=name)
    return at.astimezone(UTC)


def _plan_id(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name, "").strip() or default
    if not _TENANT.fullmatch(raw):
        raise ConfigError(f"{name} must be a plan id (lower-case letters, digits, '-' or '_')", variable=name)
    return raw


def _tenant(env: Mapping[str, str]) -> str:
    tenant = env.get("CZ_TENANT_ID", "").strip() or "cityzeen"
    if not _TENANT.fullmatch(tenant):
        raise ConfigError(
            "CZ_TENANT_ID must be lower-case letters, digits, '-' or '_' (max 64)", variable="CZ_TENANT_ID"
        )
    return tenant


def _url(env: Mapping[str, str], name: str, default: str | None) -> str | None:
    raw = env.get(name, "").strip()
    return http_url(raw, name) if raw else default


def _secret(env: Mapping[str, str], name: str, *, min_len: int = 1, prefix: tuple[str, ...] = ()) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if len(raw) < min_len:
        raise ConfigError(f"{name} is too short (at least {min_len} characters)", variable=name)
    if prefix and not raw.startswith(prefix):
        raise ConfigError(
            f"{name} does not look like a valid key (expected it to start with {' or '.join(prefix)})", variable=name
        )
    return raw
