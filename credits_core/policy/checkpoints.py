"""Export checkpoints: a delta-0 row holding the head hash of a chained export (SPEC §3)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .. import keys
from ..errors import IdempotencyConflict
from ..models import Account, Row
from .ledger import Decision, new_row


def checkpoint_rows(
    acc: Account, export_id: str, head: str, rows: int, now: datetime, existing: Row | None, **meta: Any
) -> Decision[Row]:
    """``CZ_SMCR|checkpoint|<export_id>`` holding ``head`` over ``rows`` rows, once.

    The same id with the same head replays; with another head it is an
    ``idempotency_conflict`` (a checkpoint is never rewritten).
    """
    if existing is not None:
        if existing.meta.get("head") != head or existing.meta.get("rows") != rows:
            raise IdempotencyConflict("this export checkpoint already holds another head", field="exportId")
        return Decision([], existing)
    row = new_row(acc, keys.checkpoint_name(export_id), "checkpoint", 0, 0, now, head=head, rows=rows, **meta)
    return Decision([row], row)
