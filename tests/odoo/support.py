"""Helpers of the Odoo store tests: a stand-in per store, stores on both protocols."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from credits_core.stores.odoo import OdooStore
from tests.standins.odoo import FakeOdoo

DB, LOGIN, KEY = "credits", "admin", "test-api-key"
PROTOCOLS = ("jsonrpc", "json2")


def start_fake(lifetime_s: float = 600.0) -> FakeOdoo:
    return FakeOdoo(db=DB, login=LOGIN, api_key=KEY, lifetime_s=lifetime_s).start()


def open_store(fake: FakeOdoo, protocol: str, **options: Any) -> OdooStore:
    return OdooStore(fake.url, DB, LOGIN, KEY, protocol=protocol, **options)


def env(fake: FakeOdoo, protocol: str = "jsonrpc", **overrides: str) -> dict[str, str]:
    values = {
        "ODOO_URL": fake.url,
        "ODOO_DB": DB,
        "ODOO_USERNAME": LOGIN,
        "ODOO_API_KEY": KEY,
        "ODOO_PROTOCOL": protocol,
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


class OwnStandinStore(OdooStore):
    """An OdooStore that owns a fresh stand-in and stops it on ``close`` (contract suite)."""

    fake: FakeOdoo

    def close(self) -> None:
        super().close()
        self.fake.stop()


def contract_factory(protocol: str):
    """``FACTORIES`` entry: a fresh, empty stand-in and a store on it."""

    def make(tmp_path: Path) -> OdooStore:
        fake = start_fake()
        try:
            store = OwnStandinStore(fake.url, DB, LOGIN, KEY, protocol=protocol)
        except BaseException:
            fake.stop()
            raise
        store.fake = fake
        return store

    return make
