"""Secondary Market credits: plans, metered tools, soft cap, top-ups, one ledger.

from credits_core import open_service
service = open_service()              # reads CZ_* / ODOO_* / STRIPE_* variables
service.debit("user_1", "ask_ai", "q-123")
"""

from __future__ import annotations

from .clock import Clock, FixedClock, OffsetClock, SystemClock
from .config import Settings, load_settings
from .errors import ConfigError, CreditsError
from .models import Account, Balance, CreditsState, DebitResult, PlanChange, RefundResult, Row, TopUpResult
from .registry import Registry, load_default_registry, parse_registry
from .service import CreditsService
from .stores import LedgerStore, MemoryStore, RowFilter, SqliteStore, open_registry, open_store

__all__ = [
    "Account",
    "Balance",
    "Clock",
    "CreditsError",
    "CreditsService",
    "CreditsState",
    "DebitResult",
    "FixedClock",
    "LedgerStore",
    "MemoryStore",
    "OffsetClock",
    "PlanChange",
    "RefundResult",
    "Registry",
    "Row",
    "RowFilter",
    "Settings",
    "SqliteStore",
    "SystemClock",
    "TopUpResult",
    "load_default_registry",
    "load_settings",
    "open_registry",
    "open_service",
    "open_store",
    "parse_registry",
]


def open_service(settings: Settings | None = None, *, clock: Clock | None = None) -> CreditsService:
    """A service on the configured store and registry (validates configuration now)."""
    settings = settings or load_settings()
    store = open_store(settings)
    registry = open_registry(settings)
    try:
        registry.current().plan(settings.starter_plan)
    except CreditsError:
        raise ConfigError(
            "CZ_STARTER_PLAN names no plan of the registry (use 'none' or a plan id)", variable="CZ_STARTER_PLAN"
        ) from None
    return CreditsService(
        store,
        registry,
        enforce=settings.enforce,
        clock=clock or settings.clock(),
        account_url=settings.account_url,
        starter_plan=settings.starter_plan,
    )
