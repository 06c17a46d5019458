"""Chained (tamper-evident) exports of the ledger and their verification (see ``chain``).

The service is the only caller of the store: rows stream through
``service.iter_rows`` and the checkpoint row is written by
``service.checkpoint`` (one store transaction).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO

from ..service import CreditsService
from .chain import FORMAT, GENESIS, ChainHead, Verdict, canonical, link, row_fields, verify_chain, write_chain
from .chain import new_export_id as _new_id

__all__ = [
    "FORMAT",
    "GENESIS",
    "ChainHead",
    "Verdict",
    "canonical",
    "export_chain",
    "link",
    "row_fields",
    "verify_chain",
    "verify_file",
]


def export_chain(
    service: CreditsService, out: IO[bytes], *, progress: Callable[[int], None] | None = None
) -> ChainHead:
    """Write the whole ledger to ``out`` as a chain, then its checkpoint row into the ledger."""
    now = service.now()
    export_id = _new_id(now)
    head = write_chain(service.iter_rows(), out, export_id=export_id, exported_at=now, progress=progress)
    out.flush()
    service.checkpoint(export_id, head.head, head.rows, format=FORMAT)
    return head


def verify_file(service: CreditsService, path: str | Path) -> Verdict:
    """``verify_chain`` over a file, against this ledger's checkpoints."""
    with open(path, "rb") as fh:
        return verify_chain(fh, service.find_row)
