"""The verdict rule (``credits_core/stores/odoo/fold.py``): a pure function of the active rows with lower ids."""

from __future__ import annotations

from datetime import datetime, timedelta

from credits_core.models import Account, Balance, Row, stamp
from credits_core.stores.odoo.fold import Rec, base_of, fold
from credits_core.stores.odoo.rows import to_vals
from tests.core.conftest import T0

START = Account("u", Balance(3, 0), rows=1)


def debit(key: str, cost: int, inc: int | None = None) -> Row:
    inc = cost if inc is None else inc
    return Row(f"CZ_SMCR|debit|{key}", "u", "debit", -cost, -inc, T0, {"tool": "t", "cost": cost})


def credit(key: str, amount: int) -> Row:
    return Row(f"CZ_SMCR|topup|{key}", "u", "topup", amount, 0, T0, {"credits": amount})


def rec(rid: int, row: Row, base: Account | None, txn: str | None = None) -> Rec:
    return Rec(rid, row, txn or f"t{rid}", tuple(base_of(base)) if base is not None else None)


def test_the_lowest_id_wins_a_name_and_the_loser_changes_nothing():
    judged = fold(START, [rec(11, debit("k", 1), START), rec(10, debit("k", 2), START)])
    assert judged.verdict(10) == "accepted" and judged.verdict(11) == "name"
    assert judged.account.balance == Balance(1, 0)


def test_a_write_decided_on_another_account_is_stale_whatever_it_moves():
    after_first = START.with_rows([debit("a", 1)])
    judged = fold(START, [rec(10, debit("a", 1), START), rec(11, debit("b", 1), START)])
    assert judged.verdict(11) == "stale"
    again = fold(START, [rec(10, debit("a", 1), START), rec(11, debit("b", 1), after_first)])
    assert again.accepted == {10, 11} and again.account.balance == Balance(1, 0)


def test_an_overdraft_loses_and_a_credit_after_it_is_never_refused():
    overdraft = rec(10, debit("big", 5), None)  # decided on a stale copy, no base (or a base that matched)
    judged = fold(START, [overdraft, rec(11, credit("cs", 100), START)])
    assert judged.verdict(10) == "balance" and judged.verdict(11) == "accepted"
    assert judged.account.balance == Balance(3, 100)


def test_the_rows_of_one_write_stand_or_fall_together():
    rows = [rec(10, credit("cs", 1), START, "w"), rec(11, debit("k", 9), START, "w")]
    judged = fold(START, rows)
    assert judged.rejected == {10: "balance", 11: "balance"} and judged.account == START


def test_a_name_held_outside_the_page_by_a_lower_id_wins():
    judged = fold(START, [rec(10, debit("k", 1), START)], holders={"CZ_SMCR|debit|k": 7})
    assert judged.verdict(10) == "name"
    assert fold(START, [rec(10, debit("k", 1), START)], holders={"CZ_SMCR|debit|k": 12}).accepted == {10}


# -- holds written without a base: available = balance − active holds ---------------------------


def hold(key: str, held: int, *, at: datetime = T0, ttl: timedelta = timedelta(hours=1), **meta: object) -> Row:
    meta = {"tool": "t", "hold": key, "held": held, "expiresAt": stamp(at + ttl), **meta}
    return Row(f"CZ_SMCR|hold|{key}", "u", "hold", 0, 0, at, meta)


def test_a_hold_without_a_base_that_reserves_more_than_is_available_is_refused():
    judged = fold(START, [rec(10, hold("h", 4), None)])
    assert judged.verdict(10) == "available" and judged.account == START
    assert fold(START, [rec(10, hold("h", 3), None)]).accepted == {10}  # exactly what is available


def test_two_holds_without_a_base_cannot_both_reserve_the_same_credits():
    judged = fold(START, [rec(10, hold("a", 2), None), rec(11, hold("b", 2), None), rec(12, hold("c", 1), None)])
    assert judged.accepted == {10, 12} and judged.verdict(11) == "available"
    assert judged.account.held_at(T0) == 3 and judged.account.balance == Balance(3, 0)


def test_the_rule_is_the_same_warn_only_a_shortfall_hold_that_over_commits_is_refused():
    cut = rec(11, hold("b", 2, shortfall=1, warning="held what was available"), None)
    assert fold(START, [rec(10, hold("a", 2), None), cut]).verdict(11) == "available"


def test_a_hold_record_stored_without_a_base_is_judged_on_available_credits():
    record = {**to_vals(hold("h", 4), "legacy"), "id": 10}  # as a writer before bases (or a hand) stored it
    assert fold(START, [Rec.of(record)]).verdict(10) == "available"


def test_a_hold_of_nothing_is_never_refused_even_with_nothing_available():
    over = START.with_rows([hold("a", 5)])  # already over-committed (a row inserted by hand)
    judged = fold(over, [rec(10, hold("b", 0, shortfall=2), None)])
    assert judged.accepted == {10}


def test_expired_holds_reserve_nothing_when_the_new_hold_is_written():
    old = hold("old", 3, at=T0 - timedelta(hours=2))  # expired an hour before T0, no release row yet
    judged = fold(START, [rec(10, old, None), rec(11, hold("new", 3), None)])
    assert judged.accepted == {10, 11} and judged.account.held_at(T0) == 3


def test_credits_written_with_the_hold_count_towards_what_is_available():
    topped = fold(START, [rec(10, credit("cs", 2), None, "w"), rec(11, hold("h", 5), None, "w")])
    assert topped.accepted == {10, 11} and topped.account.balance == Balance(3, 2)
    short = fold(START, [rec(10, credit("cs", 2), None, "w"), rec(11, hold("h", 6), None, "w")])
    assert short.rejected == {10: "available", 11: "available"} and short.account == START


def test_a_hold_with_a_base_is_judged_on_its_base_not_on_this_rule():
    after_first = START.with_rows([hold("a", 2)])
    judged = fold(START, [rec(10, hold("a", 2), START), rec(11, hold("b", 2), START)])
    assert judged.verdict(11) == "stale"  # decided on an account that no longer is: decided again
    again = fold(START, [rec(10, hold("a", 2), START), rec(11, hold("b", 1), after_first)])
    assert again.accepted == {10, 11} and again.account.held_at(T0) == 3
