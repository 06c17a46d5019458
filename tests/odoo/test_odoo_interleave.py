"""Issue 12 items 5 and 6: worker processes with their own OdooStore, interleaved by stand-in hooks.

``FakeOdoo.hold_create(committed=False)`` holds a create whose ids are drawn but whose rows are not
visible yet (a lower id that commits later, as in Postgres); ``committed=True`` holds a writer between
its commit and its verify (its row is visible, its fate not decided by its writer yet).
"""

from __future__ import annotations

import time

import pytest

from credits_core import CreditsService, FixedClock
from credits_core.registry import MemoryRegistryRepository
from tests.core.conftest import T0
from tests.odoo.interleave import workers
from tests.odoo.support import open_store

pytestmark = pytest.mark.slow
OPTIONS = {"gap_wait_s": 30.0}


def prepared(fake, protocol, user, credits_left):
    store = open_store(fake, protocol)
    service = CreditsService(store, MemoryRegistryRepository(), enforce=True, clock=FixedClock(T0))
    service.state(user)
    service.adjust(user, "drain", credits_left - 100, "included", "leave a few credits")
    return service


def ledger_after(fake, name):
    """``(row, balance after it)`` of the active row ``name``, by folding the active rows in id order."""
    import json

    included = purchased = 0
    for rec in sorted(fake.rows(), key=lambda r: r["id"]):
        included += int(rec["color"])
        purchased += int(rec["expected_revenue"]) - int(rec["color"])
        if rec["name"] == name:
            return json.loads(rec["street2"])["meta"], {
                "total": included + purchased,
                "included": included,
                "purchased": purchased,
            }
    return None, None


@pytest.mark.parametrize("protocol", ["jsonrpc", "json2"])
def test_a_replay_never_answers_from_a_row_its_writer_then_withdraws(fake, protocol):
    prepared(fake, protocol, "u", 3)  # 3 credits: k2 (3) or k1 (3), not both
    writer, racer, replayer = workers(fake.url, protocol, 3, **OPTIONS)
    try:
        lower = fake.hold_create(committed=False)
        racer.send("debit", "u", "comps_report", "k2")  # draws the lower id, commits later
        lower.wait_reached()
        unverified = fake.hold_create(committed=True)
        writer.send("debit", "u", "comps_report", "k1")  # decided on 3 credits: visible, not yet verified
        unverified.wait_reached()
        seen = len(fake.calls())
        replayer.send("debit", "u", "comps_report", "k1")  # same key, other process
        first = None
        deadline = time.monotonic() + 60
        while first is None and time.monotonic() < deadline:
            first = replayer.answered()
            if first is None and ("search" in {m for _, m in fake.calls()[seen:]}):
                lower.release()  # the replayer is waiting for the id below the row: let it land
                first = replayer.answer()
            time.sleep(0.01)
        lower.release()
        unverified.release()
        second = writer.answer()
        raced = racer.answer()
        again = replayer.call("debit", "u", "comps_report", "k1")
    finally:
        lower.release()
        unverified.release()
        for w in (writer, racer, replayer):
            w.close()
    k1 = [first, second, again]
    assert raced["ok"] and raced["answer"]["balance"]["total"] == 0
    assert all(a == k1[0] for a in k1), k1  # one outcome per key, whoever answers
    assert k1[0] == {"ok": False, "code": "insufficient_credits", "message": k1[0].get("message")}
    assert [r["name"] for r in fake.rows() if r["referred"] == "debit"] == ["CZ_SMCR|debit|k2"]


@pytest.mark.parametrize("protocol", ["jsonrpc", "json2"])
def test_answers_and_replays_carry_the_ledgers_exact_balance_and_split(fake, protocol):
    prepared(fake, protocol, "u", 100)
    mine, other = workers(fake.url, protocol, 2, **OPTIONS)
    try:
        assert mine.call("debit", "u", "ask_ai", "warm")["ok"]  # this process now holds a copy (99)
        assert other.call("adjust", "u", "ops-30", -30, "included", "another process")["ok"]  # ledger: 69
        first = mine.call("debit", "u", "comps_report", "k1")
        replays = [other.call("debit", "u", "comps_report", "k1"), mine.call("debit", "u", "comps_report", "k1")]
    finally:
        mine.close()
        other.close()
    meta, after = ledger_after(fake, "CZ_SMCR|debit|k1")
    assert first["ok"] and first["answer"]["balance"] == after == {"total": 66, "included": 66, "purchased": 0}
    assert first["answer"]["row"]["meta"] == meta
    for replay in replays:
        assert replay["answer"]["replayed"]
        assert {**replay["answer"], "replayed": False} == first["answer"]  # byte for byte, split included


@pytest.mark.parametrize("protocol", ["jsonrpc", "json2"])
def test_a_top_up_or_refund_is_not_refused_while_another_processes_overdraft_is_pending(fake, protocol):
    service = prepared(fake, protocol, "u", 100)
    service.debit("u", "ask_ai", "r1")  # to be refunded
    mine, other = workers(fake.url, protocol, 2, **OPTIONS)
    try:
        assert mine.call("debit", "u", "ask_ai", "warm")["ok"]  # this process now holds a copy (98)
        assert other.call("adjust", "u", "drain-97", -97, "included", "leave 1")["ok"]  # ledger: 1
        pending = fake.hold_create(committed=True)
        mine.send("debit", "u", "comps_report", "k1")  # decided on the copy: -3 from 1, not yet withdrawn
        pending.wait_reached()
        topped = other.call("top_up", "u", "pack_100", "cs_1")
        refunded = other.call("refund", "r1", "tool failed")
        pending.release()
        debit = mine.answer()
    finally:
        pending.release()
        mine.close()
        other.close()
    assert topped["ok"], topped
    assert refunded["ok"], refunded
    assert topped["answer"]["balance"] == {"total": 101, "included": 1, "purchased": 100}
    assert refunded["answer"]["balance"] == {"total": 102, "included": 2, "purchased": 100}
    assert debit["ok"] and ledger_after(fake, "CZ_SMCR|debit|k1")[1] == debit["answer"]["balance"]
