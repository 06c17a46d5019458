"""The verdict rule (``credits_core/stores/odoo/fold.py``): a pure function of the active rows with lower ids."""

from __future__ import annotations

from credits_core.models import Account, Balance, Row
from credits_core.stores.odoo.fold import Rec, base_of, fold
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
