"""``run_metered``: charge, run once, refund on failure — the rule the Ask AI page uses."""

from __future__ import annotations

import pytest

from credits_core.errors import InsufficientCredits


def test_a_successful_action_is_charged_once_and_runs_once(service):
    calls = []
    run = service.run_metered("u1", "comps_report", "m-1", lambda: calls.append(1) or "ok")
    assert run.ok and run.value == "ok" and run.debit.balance.total == 97 and run.refund is None
    again = service.run_metered("u1", "comps_report", "m-1", lambda: calls.append(1) or "ok")
    assert again.debit.replayed and again.value is None and calls == [1]


def test_a_failing_action_is_refunded_once(service):
    def boom():
        raise TimeoutError("provider timeout")

    run = service.run_metered("u1", "comps_report", "m-2", boom, reason="provider timeout")
    assert not run.ok and isinstance(run.failure, TimeoutError)
    assert run.refund is not None and run.refund.row.delta == 3 and run.refund.balance.total == 100
    replay = service.debit("u1", "comps_report", "m-2")
    assert replay.refund is not None and service.state("u1").balance.total == 100


def test_a_refused_debit_runs_nothing(enforced):
    enforced.adjust("u1", "drain", -100, "included", "empty")
    ran = []
    with pytest.raises(InsufficientCredits):
        enforced.run_metered("u1", "comps_report", "m-3", lambda: ran.append(1))
    assert ran == []
