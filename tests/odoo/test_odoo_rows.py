"""Row ↔ crm.lead mapping, and the one-aggregate account against ``Account.with_rows``."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from credits_core.errors import StateConflict
from credits_core.models import Account, Row
from credits_core.stores import RowFilter
from credits_core.stores.base import Decision
from credits_core.stores.odoo.rows import to_vals
from tests.core.support import assert_consistent

AT = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


def append(store, user, *rows):
    store.transact(user, lambda acc, lookup: Decision(list(rows), None))


def random_history(rng: random.Random, user: str, size: int) -> list[list[Row]]:
    """Batches of rows of every kind, in an order the service would never use (months out of order,
    the same month granted twice, plan rows before any grant, mixed debits) — never a negative bucket."""
    acc = Account(user)
    batches: list[list[Row]] = []
    months = ["2026-01", "2026-02", "2026-03", "2026-04"]
    plans = [("base", 100), ("intelligence", 400), ("professional", 1500)]
    at = AT
    n = 0
    while n < size:
        batch: list[Row] = []
        for _ in range(rng.randint(1, 3)):
            n += 1
            at += timedelta(minutes=rng.randint(0, 300), microseconds=rng.randint(0, 999_999))
            kind = rng.choice(
                ["grant", "grant", "plan", "upgrade", "trim", "debit", "debit", "debit", "topup", "refund", "adjust"]
            )
            bal = acc.with_rows(batch).balance
            name = f"CZ_SMCR|{kind}|{user}|{n}"
            if kind == "grant":
                amount = rng.randint(0, 120)
                plan, peak = rng.choice(plans)
                row = Row(
                    name, user, kind, amount, amount, at, {"month": rng.choice(months), "plan": plan, "peak": peak}
                )
            elif kind == "plan":
                plan, peak = rng.choice(plans)
                row = Row(name, user, kind, 0, 0, at, {"plan": plan, "peak": peak, "month": rng.choice(months)})
            elif kind == "upgrade":
                amount = rng.randint(0, 300)
                row = Row(name, user, kind, amount, amount, at, {"peak": rng.choice(plans)[1]})
            elif kind == "trim":
                cut = rng.randint(0, bal.included)
                row = Row(name, user, kind, -cut, -cut, at, {"month": rng.choice(months), "reason": "test"})
            elif kind in ("debit", "refund"):
                inc = rng.randint(0, bal.included)
                pur = rng.randint(0, bal.purchased) if rng.random() < 0.4 else 0
                sign = -1 if kind == "debit" else 1
                row = Row(
                    name,
                    user,
                    kind,
                    sign * (inc + pur),
                    sign * inc,
                    at,
                    {"tool": rng.choice(["ask_ai", "comps_report", "valuation_model"]), "cost": inc + pur},
                )
            elif kind == "topup":
                credits = rng.randint(1, 500)
                row = Row(name, user, kind, credits, 0, at, {"pack": "pack_100", "credits": credits, "price": 1500})
            else:
                inc = rng.randint(-bal.included, 50)
                row = Row(name, user, kind, inc, inc, at, {"reason": "ops", "note": 'déjà | "quoted" <b>'})
            batch.append(row)
        acc = acc.with_rows(batch)
        batches.append(batch)
    return batches


@pytest.mark.parametrize("seed", range(6))
def test_the_aggregate_account_equals_with_rows_on_random_histories(store, seed):
    rng = random.Random(seed)
    histories = {user: random_history(rng, user, rng.randint(5, 30)) for user in ("alice", "bob", "carol")}
    for i in range(max(len(b) for b in histories.values())):
        for user, batches in histories.items():
            if i < len(batches):
                append(store, user, *batches[i])
    for user, batches in histories.items():
        rows = [r for batch in batches for r in batch]
        assert store.account(user) == Account(user).with_rows(rows)
        assert assert_consistent(store, user) == Account(user).with_rows(rows)
        assert list(reversed(store.tail(user, 500))) == rows  # every field round-trips
    assert sorted(store.accounts(), key=lambda a: a.user_id) == [
        Account(u).with_rows([r for b in histories[u] for r in b]) for u in sorted(histories)
    ]


def test_a_debit_is_a_lead_with_the_documented_fields(store, fake):
    row = Row(
        "CZ_SMCR|debit|k1",
        "user_2abc",
        "debit",
        -8,
        -2,
        AT,
        {"tool": "valuation_model", "cost": 8, "note": "<p>not html</p>", "balanceAfter": {"included": 0}},
    )
    append(
        store,
        "user_2abc",
        Row(
            "CZ_SMCR|grant|user_2abc|2026-03",
            "user_2abc",
            "grant",
            2,
            2,
            AT,
            {"month": "2026-03", "plan": "base", "peak": 100},
        ),
        Row("CZ_SMCR|topup|cs_1", "user_2abc", "topup", 10, 0, AT, {"pack": "p"}),
        row,
    )
    lead = next(r for r in fake.rows() if r["name"] == row.name)
    assert lead["type"] == "lead" and lead["active"] is True
    assert (lead["expected_revenue"], lead["color"]) == (-8.0, -2)
    assert (lead["partner_name"], lead["contact_name"], lead["referred"]) == ("user_2abc", "debit", "debit")
    assert (lead["function"], lead["city"], lead["street"]) == (
        "2026-03-01 09:30:15.123456",
        "2026-03-01",
        "valuation_model",
    )
    assert json.loads(lead["street2"])["meta"] == row.meta
    assert lead["description"] is False and lead["zip"] is False
    grant = next(r for r in fake.rows() if r["referred"] == "grant")
    assert grant["contact_name"] == grant["name"]
    assert json.loads(grant["zip"]) == {"month": "2026-03", "plan": "base", "peak": 100}
    assert store.find(row.name) == row


def test_other_crm_leads_are_not_part_of_the_ledger(store, fake):
    fake.insert(
        {
            "name": "ACME renewal",
            "type": "opportunity",
            "partner_name": "u",
            "expected_revenue": 5000,
            "contact_name": "debit",
            "referred": "debit",
            "city": "2026-03-01",
        }
    )
    append(store, "u", Row("CZ_SMCR|topup|cs", "u", "topup", 5, 0, AT, {}))
    assert store.account("u").balance.total == 5
    assert [r.name for r in store.rows()] == ["CZ_SMCR|topup|cs"]
    assert [a.user_id for a in store.accounts()] == ["u"]
    assert sum(t.credits for t in store.daily_totals()) == 5


def test_archived_rows_do_not_count(store, fake):
    append(
        store,
        "u",
        Row("CZ_SMCR|topup|a", "u", "topup", 5, 0, AT, {}),
        Row("CZ_SMCR|topup|b", "u", "topup", 7, 0, AT, {}),
    )
    lead = next(r for r in fake.rows() if r["name"] == "CZ_SMCR|topup|a")
    with fake.app.table.lock:
        fake.app.table.rows[lead["id"]]["active"] = False
    assert store.account("u").balance.purchased == 7
    assert store.find("CZ_SMCR|topup|a") is None
    assert [r.name for r in store.rows()] == ["CZ_SMCR|topup|b"]


def test_duplicated_names_count_once_lowest_id_first(store, fake):
    """What a race looks like before compensation (or after a crash): each name counts once."""
    grant = Row(
        "CZ_SMCR|grant|u|2026-03", "u", "grant", 100, 100, AT, {"month": "2026-03", "plan": "base", "peak": 100}
    )
    d1 = Row("CZ_SMCR|debit|k1", "u", "debit", -3, -3, AT, {"tool": "comps_report", "cost": 3})
    top = Row("CZ_SMCR|topup|cs", "u", "topup", 50, 0, AT, {"credits": 50})
    append(store, "u", grant, top, d1)
    # racers' copies with other amounts, higher ids
    fake.insert(to_vals(Row(grant.name, "u", "grant", 80, 80, AT, {"month": "2026-03", "plan": "pro", "peak": 9}), "x"))
    fake.insert(to_vals(Row(d1.name, "u", "debit", -3, 0, AT, {"tool": "comps_report", "cost": 3}), "x"))
    fake.insert(to_vals(top, "x"))
    expected = Account("u").with_rows([grant, top, d1])
    assert store.account("u") == expected
    assert store.find(d1.name) == d1
    assert [a for a in store.accounts() if a.user_id == "u"] == [expected]
    # the next change of that user still sees each name once
    d2 = Row("CZ_SMCR|debit|k2", "u", "debit", -97, -97, AT, {"tool": "ask_ai"})
    append(store, "u", d2)
    assert store.account("u").balance.included == 0
    with pytest.raises(StateConflict):
        append(store, "u", Row("CZ_SMCR|debit|k3", "u", "debit", -1, -1, AT, {}))


def test_rows_of_the_wrong_shape_are_refused_before_writing(store, fake):
    with pytest.raises(ValueError):
        append(store, "u", Row("CZ_SMCR|grant|u|x", "u", "debit", -1, 0, AT, {}))  # kind != name
    with pytest.raises(ValueError):
        append(store, "u", Row("CZ_SMCR|topup|x", "v", "topup", 1, 0, AT, {}))  # another user's row
    assert fake.rows(active_test=False) == []


def test_ops_queries_filter_on_their_own_fields(store):
    rows = [Row(f"CZ_SMCR|topup|t{i}", "u", "topup", i + 1, 0, AT + timedelta(hours=10 * i), {}) for i in range(6)]
    append(store, "u", *rows)
    since, until = AT + timedelta(hours=10), AT + timedelta(hours=40)
    assert [r.name for r in store.rows(RowFilter(since=since, until=until))] == [
        f"CZ_SMCR|topup|t{i}" for i in (3, 2, 1)
    ]
    days = store.daily_totals()
    assert [(d.day, d.credits, d.rows) for d in days] == [
        ("2026-03-01", 3, 2),
        ("2026-03-02", 7, 2),
        ("2026-03-03", 11, 2),
    ]
