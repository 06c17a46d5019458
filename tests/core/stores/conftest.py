"""Store factories for the one contract suite (``test_contract.py``).

Every store that claims to be a ``LedgerStore`` joins the suite by adding a
factory here: a callable taking pytest's ``tmp_path`` and returning a fresh,
empty store. Stores that need a server skip themselves when it is absent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from credits_core.stores import LedgerStore, MemoryStore, SqliteStore
from tests.odoo.support import contract_factory

StoreFactory = Callable[[], LedgerStore]


def _memory(tmp_path: Path) -> LedgerStore:
    return MemoryStore()


def _sqlite(tmp_path: Path) -> LedgerStore:
    return SqliteStore(tmp_path / "contract.sqlite3")


FACTORIES: dict[str, Callable[[Path], LedgerStore]] = {
    "memory": _memory,
    "sqlite": _sqlite,
    # HOOK: the Odoo store joins here, one factory per protocol, e.g.
    #   "odoo-jsonrpc": lambda tmp: OdooStore(<stand-in url>, protocol="jsonrpc", ...),
    #   "odoo-json2":   lambda tmp: OdooStore(<stand-in url>, protocol="json2", ...),
    # (start the Odoo stand-in of tests/standins in the factory, or pytest.skip
    # when it is not available). Nothing else in the suite needs to change.
    "odoo-jsonrpc": contract_factory("jsonrpc"),
    "odoo-json2": contract_factory("json2"),
}


@pytest.fixture(params=list(FACTORIES))
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """``store_factory()`` → a fresh empty store of the parametrised kind (closed afterwards)."""
    made: list[LedgerStore] = []
    counter = iter(range(1_000_000))

    def make() -> LedgerStore:
        folder = tmp_path / f"store-{next(counter)}"
        folder.mkdir()
        store = FACTORIES[request.param](folder)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def store(store_factory: StoreFactory) -> LedgerStore:
    return store_factory()
