"""Chained export on the Odoo ledger: rows stream in pages, the checkpoint is a lead, verify works."""

from __future__ import annotations

import io
import json

from credits_core import CreditsService
from credits_core.export import export_chain, verify_chain
from credits_core.stores.odoo import OdooStore
from tests.core.export.test_chain import edit_delta, history


def test_export_streams_pages_and_verifies_on_odoo(service: CreditsService, store: OdooStore):
    history(service, users=2)
    rows = list(store.iter_rows(batch=3))  # several pages
    assert [r.name for r in rows] == [r.name for r in reversed(service.export_rows())]
    buf = io.BytesIO()
    head = export_chain(service, buf)
    lines = buf.getvalue().splitlines(keepends=True)
    assert head.rows == len(rows) and json.loads(lines[-1])["head"] == head.head
    cp = service.find_row(head.checkpoint)
    assert cp is not None and cp.kind == "checkpoint" and cp.delta == 0 and cp.meta["head"] == head.head
    assert verify_chain(lines, service.find_row).ok
    bad = verify_chain(edit_delta(lines, 2), service.find_row)
    assert (bad.ok, bad.kind, bad.index) == (False, "edited", 2)
    cut = verify_chain(lines[:-2], service.find_row)
    assert (cut.kind, cut.index) == ("truncated", head.rows - 1)
