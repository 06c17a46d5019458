"""The state machine on MemoryStore (the reference) and SqliteStore in lockstep."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from credits_core import MemoryStore, SqliteStore
from credits_core.stores import LedgerStore
from tests.core.state_machine.machine import LedgerMachine, machine_settings


class LocalLedgerMachine(LedgerMachine):
    def open_stores(self) -> list[LedgerStore]:
        self.tmp = Path(tempfile.mkdtemp(prefix="cz-state-"))
        return [MemoryStore(), SqliteStore(self.tmp / "ledger.sqlite3")]

    def teardown(self) -> None:
        try:
            super().teardown()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


LocalLedgerMachine.TestCase.settings = machine_settings(max_examples=40, steps=30)
# A failure may shrink for up to 5 minutes (hypothesis' own limit): let it report its sequence.
TestLocalLedgerStateMachine = pytest.mark.timeout(900)(LocalLedgerMachine.TestCase)
