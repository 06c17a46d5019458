"""The state machine on the Odoo store, against the Odoo HTTP stand-in, in lockstep with a MemoryStore.

Each example gets a fresh stand-in (``tests.odoo.support``) and two real
``OdooStore`` clients on it, as two app processes would be: one over
``jsonrpc`` keeping its account copy (``cache_s`` default), one over
``json2`` without it (``cache_s=0``). Operations alternate between the two,
so the first one's copy is often stale and its write is withdrawn (archived)
and decided again. After every step, besides the machine's invariants:

* both clients read the same ledger, and each user's account as its rows add up;
* the stand-in's own records are the ledger: the active ``crm.lead`` rows are
  exactly the ledger rows in id order (name, user id in ``partner_name``,
  delta in ``expected_revenue``, included part in ``color``).
"""

from __future__ import annotations

import pytest
from hypothesis import event

from credits_core import CreditsService, MemoryStore
from credits_core.models import ROW_PREFIX, Account, Row
from credits_core.stores import LedgerStore
from tests.core.state_machine.machine import LedgerMachine, machine_settings
from tests.core.state_machine.model import Outcome
from tests.core.support import assert_consistent
from tests.odoo.support import open_store, start_fake


class OdooLedgerMachine(LedgerMachine):
    def open_stores(self) -> list[LedgerStore]:
        self.fake = start_fake(lifetime_s=600)
        self.clients: list[LedgerStore] = []
        self.calls = 0
        try:
            self.clients.append(open_store(self.fake, "jsonrpc"))
            self.clients.append(open_store(self.fake, "json2", cache_s=0))
        except BaseException:
            self.close_clients()
            raise
        return [MemoryStore(), self.clients[0]]

    def close_clients(self) -> None:
        try:
            for client in self.clients:
                client.close()
        finally:
            self.fake.stop()

    def teardown(self) -> None:
        self.close_clients()

    @property
    def odoo(self) -> CreditsService:
        return self.services[1]

    def both(self, call) -> Outcome:
        """Each operation through the other client than the last one (two processes on one Odoo)."""
        self.calls += 1
        self.odoo.store = self.clients[self.calls % 2]
        return super().both(call)

    def check_store(self, svc: CreditsService, rows: list[Row], derived: dict[str, Account]) -> None:
        if svc is not self.odoo:
            return
        other = self.clients[(self.calls + 1) % 2]  # the client the invariant did not read through
        assert other.rows() == rows, f"the {other.protocol} client reads another ledger"
        for user, acc in derived.items():
            assert assert_consistent(other, user) == acc, f"{other.protocol} client: {user}'s account"
        records = [r for r in self.fake.rows(active_test=False) if r["name"].startswith(ROW_PREFIX)]
        active = sorted((r for r in records if r["active"]), key=lambda r: r["id"], reverse=True)
        stored = [(r["name"], r["partner_name"], r["expected_revenue"], r["color"]) for r in active]
        assert stored == [(r.name, r.user_id, r.delta, r.included_delta) for r in rows], (
            "the active crm.lead records are not the ledger"
        )
        if len(active) < len(records):
            event("odoo: a write was withdrawn (archived) and decided again")


OdooLedgerMachine.TestCase.settings = machine_settings(max_examples=30, steps=30)
# A failure may shrink for up to 5 minutes (hypothesis' own limit): let it report its sequence.
TestOdooLedgerStateMachine = pytest.mark.timeout(900)(OdooLedgerMachine.TestCase)
