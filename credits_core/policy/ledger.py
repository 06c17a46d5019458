"""Shared shapes of policy answers: rows, and the store contract's ``Decision`` / ``Lookup``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from ..models import Account, Row
from ..stores.base import Decision, Lookup

__all__ = ["Decision", "Lookup", "new_row"]


def new_row(acc: Account, name: str, kind: str, delta: int, included_delta: int, now: datetime, **meta: Any) -> Row:
    """A row for ``acc``'s user (meta values that are None are left out; keys sorted)."""
    return Row(
        name=name,
        user_id=acc.user_id,
        kind=kind,
        delta=delta,
        included_delta=included_delta,
        created_at=now,
        meta=_canonical({k: v for k, v in meta.items() if v is not None}),
    )


def _canonical(meta: dict[str, Any]) -> dict[str, Any]:
    """Keys sorted at every depth, as a store reads them back: a replay is the first answer byte for byte.

    orjson (a C encoder, ~5x the stdlib here) on every write; int keys become text as with ``json``.
    """
    return orjson.loads(orjson.dumps(meta, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS))
