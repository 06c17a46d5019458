"""Ledger rows as ``crm.lead`` records, and accounts from one aggregate (pure, no I/O).

Field mapping — every field a stored column of ``crm.lead`` in Odoo 19
(``addons/crm/models/crm_lead.py``). The char fields used are either plain
(``referred``) or ``compute=…, readonly=False, store=True`` from
``partner_id`` that keep their own value when the lead has no partner
(``_prepare_partner_name_from_partner`` / ``_prepare_contact_name_from_partner``
/ ``_prepare_address_values_from_partner`` return ``self.<field>``;
``_compute_function`` only clears an empty one); the store never sets
``partner_id``.

* ``name`` — row name ``CZ_SMCR|<kind>|…`` (trigram index).
* ``type`` — ``"lead"`` always (Odoo defaults to ``opportunity``).
* ``expected_revenue`` — delta, signed integer credits (monetary; sums exactly).
* ``color`` — the part of the delta that hits the included bucket (``Integer``
  "Color Index"; summed by the aggregates — ledger leads must not be recoloured).
* ``partner_name`` — user id (trigram index); every per-user query filters on it.
* ``contact_name`` — aggregation key (trigram index): the kind for debit /
  topup / refund / adjust rows, the full row name for the rows that move the
  month state (grant / plan / upgrade / trim). A function of the name, so two
  rows of one name always fall in one group.
* ``referred`` — kind.
* ``function`` — ``created_at`` as ``YYYY-MM-DD HH:MM:SS.ffffff`` UTC (fixed
  width, so text order is time order; ``create_date`` has no microseconds and
  is the insert time, not the row's time).
* ``city`` — UTC day ``YYYY-MM-DD`` of ``created_at`` (daily totals group on it).
* ``street`` — tool of a debit / refund (top tools group on it).
* ``zip`` — state rows only: JSON of the meta keys the account fold reads
  (``month``, ``plan``, ``peak``).
* ``street2`` — JSON ``{"meta": <row meta>, "txn": <write token>, "base":
  <the account the write was decided on>}`` (plain char: exact round trip;
  ``fold.py`` judges rows with it).
* ``active`` — the ledger is the set of active rows; compensation archives.

Not used: ``description`` (HTML, rewritten), ``recurring_revenue`` (behind
``crm.group_use_recurring_revenues``), ``probability`` (0–100 check,
computed), ``website`` (``_clean_website`` on create/write), ``email_from`` /
``phone`` (normalised, synced to the partner), ``lang_code`` (related, not
stored).

Derived state: one ``read_group`` / ``formatted_read_group`` of the user's
active rows grouped by ``contact_name`` with ``expected_revenue:sum``,
``color:sum``, ``__count``, ``name:count_distinct``, ``id:min``, ``id:sum`` and
``zip:max`` (all in ``READ_GROUP_AGGREGATE`` of ``odoo/orm/models.py``, which
accepts them on any stored field). Balances are the sums; the month state is
``Account.with_rows`` over the state-row groups in id order — the other kinds
never change it — so :func:`account_from_groups` equals
``Account(user).with_rows(rows)`` exactly, for any history. A group with
more rows than distinct names holds a duplicated name (a race being
compensated): :func:`dedupe` keeps the lowest id of each name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ...models import ROW_PREFIX, Account, Balance, Row

STATE_KINDS = frozenset({"grant", "plan", "upgrade", "trim"})
# Rows that start or end a hold (by the kind in their name): grouped by name like the month-state
# rows, so the one aggregate also gives the active holds (Account.holds) — their ``zip`` carries
# the hold key, the credits held (+ on the hold, − on its settle / release) and the expiry.
HOLD_NAMES = frozenset({"hold", "settle", "release"})
STATE_NAMES = STATE_KINDS | HOLD_NAMES
_INFO_KEYS = ("month", "plan", "peak", "hold", "held", "expiresAt")
TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Rows of the ledger, whatever else lives in crm.lead ("_" escaped for LIKE).
LEDGER_DOMAIN: list[Any] = [["name", "=like", ROW_PREFIX.replace("_", "\\_") + "%"]]
READ_FIELDS = ["name", "partner_name", "referred", "expected_revenue", "color", "function", "street2"]
# alias -> aggregate spec, for read_group ("alias:func(field)") and formatted_read_group ("field:func").
AGGREGATES: dict[str, str] = {
    "delta": "expected_revenue:sum",
    "inc": "color:sum",
    "n": "__count",
    "names": "name:count_distinct",
    "id_min": "id:min",
    "id_sum": "id:sum",
    "info": "zip:max",
}


class RowShapeError(ValueError):
    """A row the Odoo mapping cannot store faithfully (nothing is written)."""


@dataclass(frozen=True)
class Group:
    """Aggregates of one user's active rows sharing a ``contact_name`` key."""

    key: str
    n: int
    names: int
    delta: int
    inc: int
    id_min: int
    id_sum: int
    info: str | None = None

    @property
    def state(self) -> bool:
        return is_state_key(self.key)

    def fingerprint(self) -> tuple[Any, ...]:
        return (self.key, self.n, self.names, self.delta, self.inc, self.id_sum, self.info)


# -- rows <-> records ---------------------------------------------------------------


def kind_of_name(name: str) -> str:
    """``CZ_SMCR|debit|k`` → ``debit``."""
    return name[len(ROW_PREFIX) :].split("|", 1)[0] if name.startswith(ROW_PREFIX) else ""


def is_state_key(key: str) -> bool:
    return key.startswith(ROW_PREFIX)


def is_state_row(row: Row) -> bool:
    """Month-state rows and hold rows: their own aggregate group, folded in id order."""
    return kind_of_name(row.name) in STATE_NAMES


def group_key(row: Row) -> str:
    return row.name if is_state_row(row) else row.kind


def state_info(meta: Mapping[str, Any]) -> str:
    return json.dumps({k: meta[k] for k in _INFO_KEYS if k in meta}, sort_keys=True, separators=(",", ":"))


def check_row(row: Row, user_id: str) -> None:
    """The invariants the mapping relies on (a broken row is refused before any write)."""
    if row.user_id != user_id:
        raise RowShapeError(f"row {row.name!r} belongs to {row.user_id!r}, not to {user_id!r}")
    if kind_of_name(row.name) != row.kind and not (row.kind == "debit" and kind_of_name(row.name) == "settle"):
        raise RowShapeError(f"row name {row.name!r} must begin with {ROW_PREFIX}{row.kind}|")
    if "|" in row.user_id:
        raise RowShapeError("user ids may not contain '|'")


def to_vals(row: Row, txn: str, base: list[Any] | None = None) -> dict[str, Any]:
    """``crm.lead`` values of ``row``; ``txn`` marks the write that created it, ``base`` the account
    it was decided on (``fold.base_of``)."""
    created = row.created_at.astimezone(UTC)
    tool = row.meta.get("tool")
    return {
        "name": row.name,
        "type": "lead",
        "expected_revenue": row.delta,
        "color": row.included_delta,
        "partner_name": row.user_id,
        "contact_name": group_key(row),
        "referred": row.kind,
        "function": created.strftime(TS_FORMAT),
        "city": created.strftime("%Y-%m-%d"),
        "street": str(tool) if tool is not None else False,
        "zip": state_info(row.meta) if is_state_row(row) else False,
        "street2": json.dumps(
            {"meta": row.meta, "txn": txn, **({"base": base} if base is not None else {})},
            sort_keys=True,
            separators=(",", ":"),
        ),
    }


def from_record(rec: Mapping[str, Any]) -> Row:
    """The :class:`Row` stored in a read ``crm.lead`` record."""
    envelope = json.loads(rec.get("street2") or "{}")
    return Row(
        name=rec["name"],
        user_id=rec.get("partner_name") or "",
        kind=rec.get("referred") or kind_of_name(rec["name"]),
        delta=_int(rec.get("expected_revenue")),
        included_delta=_int(rec.get("color")),
        created_at=parse_ts(rec.get("function")),
        meta=envelope.get("meta") or {},
    )


def txn_of(rec: Mapping[str, Any]) -> str | None:
    try:
        return json.loads(rec.get("street2") or "{}").get("txn")
    except ValueError:
        return None


def parse_ts(text: Any) -> datetime:
    if not text:
        return EPOCH
    return datetime.strptime(str(text), TS_FORMAT).replace(tzinfo=UTC)


def ts(at: datetime) -> str:
    return at.astimezone(UTC).strftime(TS_FORMAT)


def _int(value: Any) -> int:
    return round(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


# -- groups -> account --------------------------------------------------------------


def to_group(raw: Mapping[str, Any], key_field: str = "contact_name") -> Group:
    """A normalised aggregate row (aliases of :data:`AGGREGATES`) as a :class:`Group`."""
    info = raw.get("info")
    return Group(
        key=raw.get(key_field) or "",
        n=_int(raw.get("n")),
        names=_int(raw.get("names")),
        delta=_int(raw.get("delta")),
        inc=_int(raw.get("inc")),
        id_min=_int(raw.get("id_min")),
        id_sum=_int(raw.get("id_sum")),
        info=info if isinstance(info, str) and info else None,
    )


def fingerprint(groups: Iterable[Group]) -> tuple[tuple[Any, ...], ...]:
    """Changes whenever a row joins or leaves the groups (ids are summed)."""
    return tuple(sorted(g.fingerprint() for g in groups))


def has_duplicates(groups: Iterable[Group]) -> bool:
    return any(g.n > g.names for g in groups)


def account_from_groups(user_id: str, groups: Iterable[Group]) -> Account:
    """``Account(user).with_rows(active rows)``, from the grouped aggregates (no duplicates)."""
    groups = list(groups)
    acc = Account(user_id)
    for g in sorted((g for g in groups if g.state), key=lambda g: g.id_min):
        meta = json.loads(g.info) if g.info else {}
        acc = acc.with_rows([Row(g.key, user_id, kind_of_name(g.key), g.delta, g.inc, EPOCH, meta)])
    if not groups:
        return acc
    included = sum(g.inc for g in groups)
    total = sum(g.delta for g in groups)
    return replace(acc, balance=Balance(included, total - included), rows=sum(g.n for g in groups))


def add_rows(groups: Iterable[Group], rows: Iterable[tuple[int, Row]]) -> list[Group]:
    """``groups`` after the rows ``(id, row)`` joined them (what a verify expects to see)."""
    by_key = {g.key: g for g in groups}
    for rid, row in rows:
        key = group_key(row)
        info = state_info(row.meta) if is_state_row(row) else None
        g = by_key.get(key)
        if g is None:
            by_key[key] = Group(key, 1, 1, row.delta, row.included_delta, rid, rid, info)
        else:
            by_key[key] = Group(
                key,
                g.n + 1,
                g.names + 1,
                g.delta + row.delta,
                g.inc + row.included_delta,
                min(g.id_min, rid),
                g.id_sum + rid,
                max(filter(None, (g.info, info)), default=None),
            )
    return list(by_key.values())


def remove_rows(
    groups: Iterable[Group], rows: Iterable[tuple[int, Row]], *, same_name_stays: bool = False
) -> list[Group]:
    """``groups`` without the rows ``(id, row)`` (names counted once unless ``same_name_stays``)."""
    by_key = {g.key: g for g in groups}
    for rid, row in rows:
        g = by_key.get(group_key(row))
        if g is None:
            continue
        n = g.n - 1
        if n <= 0:
            del by_key[g.key]
            continue
        by_key[g.key] = replace(
            g,
            n=n,
            names=g.names - (0 if same_name_stays else 1),
            delta=g.delta - row.delta,
            inc=g.inc - row.included_delta,
            id_sum=g.id_sum - rid,
        )
    return list(by_key.values())


def dedupe(groups: Iterable[Group], same_name: Mapping[str, list[tuple[int, Row]]]) -> list[Group]:
    """Groups counting each duplicated name once: its lowest id stays, the others go."""
    out = list(groups)
    for _name, found in same_name.items():
        ordered = sorted(found, key=lambda pair: pair[0])
        if len(ordered) < 2:
            continue
        winner_id, winner = ordered[0]
        out = remove_rows(out, ordered[1:], same_name_stays=True)
        if is_state_row(winner):
            out = [
                replace(g, id_min=winner_id, info=state_info(winner.meta)) if g.key == winner.name else g for g in out
            ]
    return out
