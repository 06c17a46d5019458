"""Ledger stores behind one interface (see ``base.py``)."""

from __future__ import annotations

from pathlib import Path

from ..config import Settings, load_odoo_settings
from ..registry import MemoryRegistryRepository, RegistryRepository, SqliteRegistryRepository
from .base import DailyTotal, LedgerStore, RowFilter, ToolUsage
from .memory import MemoryStore
from .sqlite import SqliteStore

__all__ = [
    "DailyTotal",
    "LedgerStore",
    "MemoryStore",
    "RowFilter",
    "SqliteStore",
    "ToolUsage",
    "open_registry",
    "open_store",
]


def open_store(settings: Settings) -> LedgerStore:
    """The store ``CZ_LEDGER`` names (opened and checked now, not on first use)."""
    if settings.ledger == "memory":
        return MemoryStore()
    if settings.ledger == "odoo":
        from .odoo import OdooStore

        return OdooStore.from_settings(settings.odoo or load_odoo_settings(settings.environ))
    return SqliteStore(settings.ledger_path)


def open_registry(settings: Settings) -> RegistryRepository:
    """Registry versions: in the SQLite ledger file, or a file of their own for Odoo."""
    if settings.ledger == "memory":
        return MemoryRegistryRepository(settings.tenant)
    default = (
        settings.ledger_path
        if settings.ledger == "sqlite"
        else str(Path(settings.ledger_path).parent / "registry.sqlite3")
    )
    return SqliteRegistryRepository(settings.registry_path or default, settings.tenant)
