"""The write–verify–compensate rules, one racer at a time, made deterministic.

A racer is simulated by inserting its row straight into the stand-in at the
exact moment of the protocol under test (before or after our ``create``).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from credits_core.errors import IdempotencyConflict, InsufficientCredits
from credits_core.models import Balance, Row
from credits_core.stores.odoo import OdooStore
from credits_core.stores.odoo.rows import to_vals
from tests.core.conftest import T0

NAME = "CZ_SMCR|debit|k1"


def racer_row(user: str = "u", delta: int = -3, after: int = 97) -> Row:
    meta = {"tool": "comps_report", "cost": -delta, "registryVersion": 1, "plan": "base", "month": "2026-01"}
    meta["balanceAfter"] = Balance(after, 0).to_dict()
    return Row(NAME, user, "debit", delta, delta, T0, meta)


def after_create(store: OdooStore, hook: Callable[[], None]) -> None:
    """Run ``hook`` once, right after our next ``create`` committed."""
    client, original = store._client, store._client.call
    fired = []

    def call(method: str, **params: Any) -> Any:
        result = original(method, **params)
        if method == "create" and not fired:
            fired.append(True)
            hook()
        return result

    client.call = call  # type: ignore[method-assign]


def before_create(store: OdooStore, hook: Callable[[], None]) -> None:
    """Run ``hook`` once, right before our next ``create`` (a racer that drew a lower id)."""
    client, original = store._client, store._client.call
    fired = []

    def call(method: str, **params: Any) -> Any:
        if method == "create" and not fired:
            fired.append(True)
            hook()
        return original(method, **params)

    client.call = call  # type: ignore[method-assign]


def active(fake, name: str = NAME) -> list[dict]:
    return [r for r in fake.rows() if r["name"] == name]


def test_an_older_rival_wins_and_its_answer_is_replayed(service, store, fake):
    service.state("u")
    rival = racer_row()
    original = store._find

    def find_misses_then_rival_commits(name: str):
        found = original(name)
        if name == NAME and not active(fake):
            fake.insert(to_vals(rival, "racer"))  # committed after our lookup, before our create
        return found

    store._find = find_misses_then_rival_commits  # type: ignore[method-assign]
    answer = service.debit("u", "comps_report", "k1")
    assert answer.replayed and answer.row == rival and answer.balance == Balance(97, 0)
    assert len(active(fake)) == 1 and active(fake)[0]["street2"].endswith('"txn":"racer"}')


def test_a_younger_rival_never_wins_the_lowest_id_keeps_the_name(service, store, fake):
    service.state("u")
    after_create(store, lambda: fake.insert(to_vals(racer_row(), "racer")))  # a higher id: it loses
    answer = service.debit("u", "comps_report", "k1")
    assert not answer.replayed and answer.balance == Balance(97, 0)
    assert len(active(fake)) == 1 and not active(fake)[0]["street2"].endswith('"txn":"racer"}')
    assert service.debit("u", "comps_report", "k1").row == answer.row


def test_a_younger_rival_that_backs_off_leaves_ours(service, store, fake):
    service.state("u")

    def racer_commits_then_sees_ours():
        rid = fake.insert(to_vals(racer_row(), "racer"))

        def back_off():
            with fake.app.table.lock:
                fake.app.table.rows[rid]["active"] = False

        threading.Timer(0.05, back_off).start()

    after_create(store, racer_commits_then_sees_ours)
    answer = service.debit("u", "comps_report", "k1")
    assert not answer.replayed and answer.balance == Balance(97, 0)
    assert len(active(fake)) == 1 and not active(fake)[0]["street2"].endswith('"txn":"racer"}')


def test_the_same_key_of_another_user_is_a_conflict_and_ours_is_withdrawn(service, store, fake):
    service.state("u")
    service.state("someone-else")  # its grant: the racer's debit is covered
    before_create(store, lambda: fake.insert(to_vals(racer_row(user="someone-else"), "racer")))
    with pytest.raises(IdempotencyConflict):
        service.debit("u", "comps_report", "k1")
    assert [r["partner_name"] for r in active(fake)] == ["someone-else"]
    assert service.state("u").balance == Balance(100, 0)


@pytest.mark.parametrize("enforce", [True, False])
def test_a_concurrent_debit_that_overspends_sends_ours_back_to_decide(service, store, fake, enforce):
    service.enforce = enforce
    service.state("u")
    service.adjust("u", "drain", -97, "included", "leave 3: ours (3) or the other (2), not both")
    other = Row("CZ_SMCR|debit|other", "u", "debit", -2, -2, T0, {"tool": "ask_ai", "cost": 2})
    before_create(store, lambda: fake.insert(to_vals(other, "racer")))  # a lower id, committed first
    if enforce:
        with pytest.raises(InsufficientCredits):
            service.debit("u", "comps_report", "k1")
        assert active(fake) == []
    else:  # warn-only: allowed, nothing charged
        answer = service.debit("u", "comps_report", "k1")
        assert answer.warning and answer.row.delta == 0
    assert store.account("u").balance == Balance(1, 0)
    archived = [r for r in fake.rows(active_test=False) if not r["active"]]
    assert [(r["name"], r["expected_revenue"]) for r in archived] == [(NAME, -3.0)]


def test_every_name_is_active_once_after_a_thread_storm_on_one_key(make_store, clock, fake):
    from credits_core import CreditsService
    from credits_core.registry import MemoryRegistryRepository

    services = [CreditsService(make_store(), MemoryRegistryRepository(), clock=clock) for _ in range(4)]
    services[0].state("u")
    answers: list[Any] = []

    def hit(service):
        for i in range(10):
            answers.append(service.debit("u", "ask_ai", f"storm-{i}"))

    threads = [threading.Thread(target=hit, args=(s,)) for s in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(Counter(r["name"] for r in fake.rows() if r["referred"] == "debit").values()) == {1}
    by_key: dict[str, list] = {}
    for a in answers:
        by_key.setdefault(a.row.name, []).append((a.row, a.balance))
    assert all(v.count(v[0]) == len(v) == 4 for v in by_key.values())  # one answer per key
    assert services[0].state("u").balance == Balance(90, 0)


def test_a_create_that_commits_after_the_client_timed_out_is_found_not_doubled(make_store, clock, fake):
    from credits_core import CreditsService
    from credits_core.registry import MemoryRegistryRepository
    from credits_core.stores.odoo.client import OdooTransportError

    store = make_store(timeout_s=0.5)
    service = CreditsService(store, MemoryRegistryRepository(), clock=clock)
    service.state("u")
    original = store._client.call
    late: list[threading.Thread] = []

    def slow_create(method: str, **params: Any) -> Any:
        if method == "create" and not late:  # Odoo keeps working after the client gave up
            late.append(threading.Timer(0.1, lambda: original(method, **params)))
            late[0].start()
            raise OdooTransportError("Odoo did not answer within 0.5 s", sent=True, timeout=True)
        return original(method, **params)

    store._client.call = slow_create  # type: ignore[method-assign]
    answer = service.debit("u", "comps_report", "k1")
    assert not answer.replayed and answer.balance == Balance(97, 0)
    assert len(active(fake)) == 1 and len(fake.rows(active_test=False)) == 2  # grant + this debit
