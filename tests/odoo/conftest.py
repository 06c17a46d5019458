"""Fixtures of the Odoo store tests: a fresh stand-in per test, a store per protocol."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from credits_core import CreditsService, FixedClock
from credits_core.registry import MemoryRegistryRepository
from credits_core.stores.odoo import OdooStore
from tests.core.conftest import T0
from tests.odoo.support import PROTOCOLS, open_store, start_fake
from tests.standins.odoo import FakeOdoo


@pytest.fixture
def fake() -> Iterator[FakeOdoo]:
    stand_in = start_fake(lifetime_s=300)
    yield stand_in
    stand_in.stop()


@pytest.fixture(params=PROTOCOLS)
def protocol(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_store(fake: FakeOdoo, protocol: str) -> Iterator[Callable[..., OdooStore]]:
    """``make_store(**options)`` → an OdooStore on the test's stand-in (closed afterwards)."""
    opened: list[OdooStore] = []

    def make(**options: Any) -> OdooStore:
        store = open_store(fake, protocol, **options)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: Callable[..., OdooStore]) -> OdooStore:
    return make_store()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def service(clock: FixedClock, store: OdooStore) -> CreditsService:
    return CreditsService(store, MemoryRegistryRepository(), clock=clock)
