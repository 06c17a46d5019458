"""Tamper-evident exports: the ledger as a SHA-256 hash chain in JSON Lines.

File layout (UTF-8, one JSON object per line):

* line 1, the header: ``{"format": "cz-smcr-chain/1", "genesis": …, "checkpoint": <row name>, "exportedAt": …}``;
* one line per ledger row, in ledger order: the row's exported fields
  (``name``, ``userId``, ``kind``, ``delta``, ``includedDelta``, ``createdAt``
  with microseconds, ``meta``) plus ``seq`` (0, 1, …) and ``hash``;
* the last line, the head: ``{"head": <hash of the last row>, "rows": n, "checkpoint": <row name>}``.

``hash`` of row *i* = SHA-256 of ``<hash of row i-1, hex> + "\\n" + canonical(row i)``,
where row −1's hash is :data:`GENESIS` and ``canonical`` is the JSON of the
row's fields and ``seq`` with sorted keys, compact separators, UTF-8. The same
export writes ``CZ_SMCR|checkpoint|<id>`` (delta 0) into the ledger with the
head and the row count, so a file cut short is caught even when its own head
line went with the cut.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from .. import keys
from ..models import Row

FORMAT = "cz-smcr-chain/1"
GENESIS = hashlib.sha256(b"CZ_SMCR|chain|genesis|v1").hexdigest()
FIELDS = ("name", "userId", "kind", "delta", "includedDelta", "createdAt", "meta")


def row_fields(row: Row, seq: int) -> dict[str, Any]:
    """The exported fields of ``row`` at position ``seq``."""
    return {
        "seq": seq,
        "name": row.name,
        "userId": row.user_id,
        "kind": row.kind,
        "delta": row.delta,
        "includedDelta": row.included_delta,
        "createdAt": row.created_at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z",
        "meta": row.meta,
    }


def canonical(fields: dict[str, Any]) -> bytes:
    """Sorted keys, compact separators, UTF-8 (no ASCII escaping)."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def link(prev: str, body: bytes) -> str:
    """The hash of a row whose canonical form is ``body`` after a row hashed ``prev``."""
    return hashlib.sha256(prev.encode("ascii") + b"\n" + body).hexdigest()


@dataclass(frozen=True)
class ChainHead:
    """What an export wrote: the checkpoint row's id and name, the head hash and the row count."""

    export_id: str
    checkpoint: str
    head: str
    rows: int


def new_export_id(now: datetime) -> str:
    """``20270301T000030Z-1a2b3c4d``: when, plus a random tail (two exports in one second differ)."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def write_chain(
    rows: Iterable[Row],
    out: IO[bytes],
    *,
    export_id: str,
    exported_at: datetime,
    progress: Callable[[int], None] | None = None,
    every: int = 10_000,
) -> ChainHead:
    """Stream ``rows`` to ``out`` as a chain (header, rows, head); memory stays flat."""
    name = keys.checkpoint_name(export_id)
    header = {"format": FORMAT, "genesis": GENESIS, "checkpoint": name, "exportedAt": exported_at.isoformat()}
    out.write(canonical(header) + b"\n")
    prev, n = GENESIS, 0
    write = out.write
    for row in rows:
        body = canonical(row_fields(row, n))
        prev = link(prev, body)
        write(body[:-1] + b',"hash":"' + prev.encode("ascii") + b'"}\n')
        n += 1
        if progress is not None and n % every == 0:
            progress(n)
    out.write(canonical({"head": prev, "rows": n, "checkpoint": name}) + b"\n")
    return ChainHead(export_id, name, prev, n)


# -- verify ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """The result of ``verify``: ``ok``, or the first problem (``kind`` at row ``index``)."""

    ok: bool
    rows: int  # rows read that chain correctly
    head: str | None = None
    checkpoint: str | None = None
    checkpoint_head: str | None = None
    checkpoint_rows: int | None = None
    kind: str | None = (
        None  # edited | reordered | removed | added | truncated | rewritten | not_a_chain | no_checkpoint
    )
    index: int | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class _Lines:
    """The file's JSON lines with one line of look-ahead."""

    def __init__(self, lines: Iterable[bytes]) -> None:
        self._it: Iterator[bytes] = iter(lines)
        self._next: dict[str, Any] | None = None
        self.bad_line: int | None = None
        self.count = 0
        self._advance()

    def _advance(self) -> None:
        for raw in self._it:
            if not raw.strip():
                continue
            self.count += 1
            try:
                value = json.loads(raw)
            except ValueError:
                value = {"__unreadable__": True}
            self._next = value if isinstance(value, dict) else {"__unreadable__": True}
            return
        self._next = None

    def peek(self) -> dict[str, Any] | None:
        return self._next

    def pop(self) -> dict[str, Any] | None:
        cur = self._next
        self._advance()
        return cur


def verify_chain(lines: Iterable[bytes], find: Callable[[str], Row | None]) -> Verdict:
    """Check a chained export line by line against itself and the ledger's checkpoint (``find``)."""
    src = _Lines(lines)
    header = src.pop()
    if header is None or header.get("format") != FORMAT or not isinstance(header.get("checkpoint"), str):
        return Verdict(
            False, 0, kind="not_a_chain", index=None, message="the first line is not a chained-export header"
        )
    name = header["checkpoint"]
    cp = find(name)
    cp_head = cp.meta.get("head") if cp is not None else None
    cp_rows = cp.meta.get("rows") if cp is not None else None
    seen = dict(checkpoint=name, checkpoint_head=cp_head, checkpoint_rows=cp_rows)
    prev, i = str(header.get("genesis") or GENESIS), 0
    if prev != GENESIS:
        return Verdict(False, 0, **seen, kind="rewritten", message="the header's genesis value was changed")
    while (rec := src.peek()) is not None and "head" not in rec:
        src.pop()
        stored = rec.pop("hash", None)
        body = canonical(rec)
        expected = link(prev, body)
        if stored == expected and rec.get("seq") == i:
            prev, i = expected, i + 1
            continue
        kind, index = _classify(rec, i, src.peek())
        return Verdict(False, i, prev, **seen, kind=kind, index=index, message=_say(kind, index, rec))
    tail = src.pop()
    if cp is None:
        return Verdict(
            False,
            i,
            prev,
            **seen,
            kind="no_checkpoint",
            message=f"the ledger has no checkpoint {name}: not an export of this ledger, or the header was edited",
        )
    if isinstance(cp_rows, int) and i < cp_rows:
        return Verdict(
            False,
            i,
            prev,
            **seen,
            kind="truncated",
            index=i,
            message=f"the file ends after {i:,} rows; the checkpoint holds {cp_rows:,}: rows from #{i} are missing",
        )
    if isinstance(cp_rows, int) and i > cp_rows:
        return Verdict(
            False,
            i,
            prev,
            **seen,
            kind="added",
            index=cp_rows,
            message=f"row #{cp_rows} and after were added: the checkpoint holds {cp_rows:,} rows",
        )
    if prev != cp_head:
        return Verdict(
            False,
            i,
            prev,
            **seen,
            kind="rewritten",
            message="every row chains, but the head differs from the checkpoint: the file was re-hashed",
        )
    if tail is None:
        return Verdict(False, i, prev, **seen, kind="truncated", index=i, message="the head line is missing")
    if tail.get("head") != prev or tail.get("rows") != i or src.peek() is not None:
        return Verdict(False, i, prev, **seen, kind="rewritten", index=i, message="the head line was altered")
    return Verdict(True, i, prev, **seen, message=f"OK: {i:,} rows chain to the head held by {name}")


def _classify(rec: dict[str, Any], i: int, nxt: dict[str, Any] | None) -> tuple[str, int]:
    """Why row ``i`` does not chain, with one row of look-ahead (see ``seq``)."""
    if rec.get("__unreadable__"):
        return ("truncated" if nxt is None else "edited"), i
    seq = rec.get("seq")
    nseq = nxt.get("seq") if nxt is not None else None
    if not isinstance(seq, int) or isinstance(seq, bool):
        return "added", i
    if seq > i:
        return ("reordered", i) if nseq == i else ("removed", i)
    if seq < i:
        return "added", i
    return ("added", i) if nseq == i else ("edited", i)


def _say(kind: str, index: int, rec: dict[str, Any]) -> str:
    what = rec.get("name") if isinstance(rec.get("name"), str) else "?"
    return {
        "edited": f"row #{index} ({what}) was edited: its content no longer matches its hash",
        "reordered": f"row #{index} is out of order: row #{rec.get('seq')} ({what}) stands in its place",
        "removed": f"row #{index} was removed: the file goes on with row #{rec.get('seq')} ({what})",
        "added": f"a row was added at #{index} ({what}): it is not part of the export",
        "truncated": f"the file is cut inside row #{index}",
    }[kind]
