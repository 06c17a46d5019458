"""``runway`` in ``GET /api/credits-state``: null without history, days and range with it."""

from __future__ import annotations

from datetime import timedelta

from credits_core import CreditsService, FixedClock, load_settings
from credits_core.registry import MemoryRegistryRepository
from tests.api.conftest import Api, uid


def test_state_carries_runway_once_there_is_history(api: Api) -> None:
    fresh = api.state(uid("rw-new"))
    assert fresh["runway"] is None  # too little history to say
    user = uid("rw")
    now = load_settings().clock().now()  # the server's clock (CZ_CLOCK when frozen)
    with api.store() as store:
        service = CreditsService(store, MemoryRegistryRepository(), clock=FixedClock(now - timedelta(days=20)))
        service.change_plan(user, "base", request_id="rw-plan")
        for day in range(20):
            service.clock = FixedClock(now - timedelta(days=20 - day, hours=1))
            for i in range(6):
                service.debit(user, "ask_ai", f"{user}-{day}-{i}")
    body = api.state(user, limit=0)
    runway = body["runway"]
    assert runway is not None, body
    assert runway["basisDays"] >= 7 and runway["dailyBurn"] > 0
    assert runway["nextGrant"] >= 0 and runway["holds"] == 0
    assert runway["text"].startswith("≈") or runway["text"].startswith("more than")
    if runway["days"] is not None:
        assert runway["low"] <= runway["days"]
