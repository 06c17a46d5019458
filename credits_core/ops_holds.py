"""Holds for Ops: every recent hold with its status (active, expired, settled, released)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from . import keys
from .models import stamp
from .stores.base import LedgerStore, RowFilter

COLUMNS = ["holdKey", "userId", "tool", "status", "held", "charged", "released", "createdAt", "expiresAt"]


def holds_frame(store: LedgerStore, now: datetime, user_id: str | None = None, limit: int = 500) -> pd.DataFrame:
    """The newest ``limit`` holds (of ``user_id`` or everyone), one row each, newest first."""
    rows = store.rows(RowFilter(user_id=user_id, kinds=("hold", "release")), limit=2 * limit)
    ends = {r.meta["hold"]: r for r in rows if r.kind == "release"}
    at = stamp(now)
    out = []
    for row in (r for r in rows if r.kind == "hold"):
        key, held = row.meta["hold"], int(row.meta["held"])
        end = ends.get(key) or store.find(keys.release_name(key)) or store.find(keys.settle_name(key))
        if end is None:
            status, charged = ("expired" if row.meta["expiresAt"] <= at else "active"), 0
        elif end.kind == "debit":
            status, charged = "settled", -end.delta
        else:
            status, charged = ("expired" if end.meta.get("reason") == "expired" else "released"), 0
        released = held - charged if status in ("settled", "released", "expired") else 0
        out.append(
            [
                key,
                row.user_id,
                row.meta.get("tool"),
                status,
                held,
                charged,
                max(0, released),
                row.created_at,
                row.meta["expiresAt"],
            ]
        )
        if len(out) >= limit:
            break
    return pd.DataFrame(out, columns=COLUMNS)
