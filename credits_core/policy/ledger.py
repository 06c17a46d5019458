"""Shared shapes of policy answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from ..models import Account, Row

T = TypeVar("T")

# Finds an existing row by name inside the running transaction.
Lookup = Callable[[str], Row | None]


@dataclass(frozen=True)
class Decision(Generic[T]):
    """Rows to append atomically, and the answer to give once they are."""

    rows: list[Row] = field(default_factory=list)
    result: T | None = None


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
    """Keys sorted at every depth, as a store reads them back: a replay is the first answer byte for byte."""
    return json.loads(json.dumps(meta, sort_keys=True))
