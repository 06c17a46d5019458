"""The in-memory ``crm.lead`` table: one lock, one snapshot per call (rollback on error).

Search, read, create, write, unlink and ``fields_get`` as the ORM answers them
(``odoo/orm/models.py``); the group-by methods come from
:class:`~.grouping.GroupByMixin`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .domains import domain_mentions, eval_domain, match_operator, parse_domain, parse_order, sort_by_terms
from .errors import OdooError, builtin_error, missing_error, user_error
from .faults import Gate
from .fields import (
    DT_FORMAT,
    LEAD_FIELDS,
    LEAD_ORDER,
    MODEL,
    Field,
    convert_to_cache,
    email_normalize,
    parse_datetime,
)
from .grouping import GroupByMixin


@dataclass
class Env:
    """What one request runs as: user, context and transaction time."""

    uid: int
    context: dict
    now: dt.datetime


class LeadTable(GroupByMixin):
    """In-memory ``crm.lead`` with the ORM methods reachable over RPC.

    Every call runs under one lock on a snapshot: an exception restores the
    rows (ids already handed out stay consumed, like a Postgres sequence).
    """

    def __init__(self, users: dict[int, dict]):
        self.users = users
        self.lock = threading.RLock()
        self.rows: dict[int, dict] = {}
        self.next_id = 1
        self.gates: list[Gate] = []  # creates to hold between drawing their ids and committing

    @contextlib.contextmanager
    def transaction(self):
        """Serialize the call and roll back the rows if it raises."""
        with self.lock:
            snapshot = {rid: dict(row) for rid, row in self.rows.items()}
            try:
                yield
            except BaseException:
                self.rows = snapshot
                raise

    # -- field helpers -------------------------------------------------------

    def check_field(self, name: str) -> None:
        """Domain field check (Odoo 17 wording: ``Invalid field crm.lead.x in leaf``).

        Dotted paths (``user_id.name``) are not supported by the stand-in.
        """
        if name not in LEAD_FIELDS:
            raise builtin_error("ValueError", f"Invalid field {MODEL}.{name} in leaf")

    def value(self, row: dict, name: str) -> Any:
        """Stored value of ``name`` (computed for the non-stored fields)."""
        if name == "display_name":
            return row["name"]
        if name == "lang_code":
            return None
        return row.get(name)

    def user_name(self, uid: int | None) -> str | None:
        """Display name of a res.users id."""
        return None if uid is None else self.users.get(uid, {}).get("name")

    def to_read(self, name: str, value: Any, load: str | None = "_classic_read") -> Any:
        """convert_to_read: NULL -> False, datetimes as text, many2one as [id, name]."""
        field = LEAD_FIELDS[name]
        if value is None:
            return False
        if field.type == "datetime":
            return value.strftime(DT_FORMAT)
        if field.type == "many2one":
            return [value, self.user_name(value)] if load else value
        return value

    def _is_empty(self, name: str) -> Callable[[Any], bool]:
        """What ``= False`` matches for this field (NULL, or '' on text)."""
        if LEAD_FIELDS[name].type in ("char", "html", "selection"):
            return lambda value: value is None or value == ""
        if LEAD_FIELDS[name].type == "boolean":
            return lambda value: not value
        return lambda value: value is None

    # -- search --------------------------------------------------------------

    def match_leaf(self, row: dict, leaf: tuple) -> bool:
        """Evaluate one leaf on one row (many2one ``like`` goes by user name)."""
        field_name, operator, right = leaf
        field = LEAD_FIELDS[field_name]
        value = self.value(row, field_name)
        if field.type == "many2one" and "like" in operator:
            value = self.user_name(value)
        elif field.type == "datetime":
            right = _map_right(right, parse_datetime)
        elif field.type == "boolean" and right is not None:
            right = _map_right(right, bool)
        return match_operator(value, operator, right, self._is_empty(field_name))

    def domain_ids(self, env: Env, domain: Any) -> list[int]:
        """Ids matching ``domain`` with the active_test rule, unordered."""
        node = parse_domain(domain, self.check_field)
        active_test = env.context.get("active_test", True) and not domain_mentions(node, "active")
        return [
            rid
            for rid, row in self.rows.items()
            if (not active_test or row["active"]) and eval_domain(node, lambda leaf, r=row: self.match_leaf(r, leaf))
        ]

    def _check_order_field(self, name: str) -> None:
        """Order terms must be stored fields of crm.lead."""
        field = LEAD_FIELDS.get(name)
        if field is None or not field.store:
            raise builtin_error("ValueError", f"Invalid field {name!r} on model {MODEL!r}")

    def order_key(self, rid: int, name: str) -> Any:
        """Sort key of one row for one order term (many2one by user name)."""
        value = self.value(self.rows[rid], name)
        if LEAD_FIELDS[name].type == "many2one" and value is not None:
            return self.user_name(value)
        return value

    def ordered(self, ids: list[int], order: str | None) -> list[int]:
        """Sort ids by an order string, crm.lead's ``_order`` by default."""
        terms = parse_order(order or LEAD_ORDER, self._check_order_field)
        return sort_by_terms(ids, terms, self.order_key)

    def search(self, env: Env, domain: Any, offset: int = 0, limit: int | None = None, order: str | None = None):
        """ORM ``search``: ordered ids."""
        ids = self.ordered(self.domain_ids(env, domain), order)
        offset = offset or 0
        return ids[offset : offset + limit] if limit else ids[offset:]

    def search_count(self, env: Env, domain: Any, limit: int | None = None) -> int:
        """ORM ``search_count``."""
        count = len(self.domain_ids(env, domain))
        return min(count, limit) if limit else count

    def search_read(
        self,
        env: Env,
        domain: Any,
        fields: list | None = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
        load: str | None = "_classic_read",
    ) -> list[dict]:
        """ORM ``search_read``: search then read, in search order."""
        self._read_fields(fields)
        return self.read(env, self.search(env, domain, offset, limit, order), fields, load)

    # -- read ----------------------------------------------------------------

    def _read_fields(self, fields: Any) -> list[str]:
        """Requested field names, all of them when none are given."""
        if not fields:
            return [name for name in LEAD_FIELDS if name != "id"]
        if isinstance(fields, str):
            fields = [fields]
        for name in fields:
            if name not in LEAD_FIELDS:
                raise builtin_error("ValueError", f"Invalid field {name!r} on {MODEL!r}")
        return [name for name in fields if name != "id"]

    def read(self, env: Env, ids: Any, fields: list | None = None, load: str | None = "_classic_read") -> list[dict]:
        """ORM ``read``: ids that do not exist are left out (no error)."""
        names = self._read_fields(fields)
        result = []
        for rid in _as_ids(ids):
            row = self.rows.get(rid)
            if row is not None:
                result.append({"id": rid} | {n: self.to_read(n, self.value(row, n), load) for n in names})
        return result

    # -- create / write / unlink ---------------------------------------------

    def _check_vals(self, vals: Any) -> dict:
        """Values must be a mapping of known fields (ValueError otherwise)."""
        if not isinstance(vals, dict):
            raise builtin_error("ValueError", f"Invalid values {vals!r} for {MODEL!r}")
        for name in vals:
            if name not in LEAD_FIELDS:
                raise builtin_error("ValueError", f"Invalid field {name!r} in {MODEL!r}")
        return vals

    def _convert(self, vals: dict) -> dict:
        """Writable stored values; magic and computed fields are ignored."""
        converted = {}
        for name, value in vals.items():
            field = LEAD_FIELDS[name]
            if field.readonly or not field.store:
                continue
            converted[name] = convert_to_cache(name, field, value)
            if name == "user_id" and converted[name] is not None and converted[name] not in self.users:
                raise _not_null_or_fk_error("foreign key", name)
        if "email_from" in converted:
            converted["email_normalized"] = email_normalize(converted["email_from"])
        return converted

    def _new_row(self, env: Env, vals: dict) -> dict:
        """Defaults, then values, then the magic columns."""
        row = {name: field.default for name, field in LEAD_FIELDS.items() if field.store}
        row["user_id"] = env.uid
        row["email_normalized"] = None
        row.update(self._convert(vals))
        row.update(create_date=env.now, write_date=env.now, create_uid=env.uid, write_uid=env.uid)
        return row

    def create(self, env: Env, vals_list: Any) -> list[int]:
        """ORM ``create`` (model_create_multi): all rows or none."""
        vals_list = [vals_list] if isinstance(vals_list, dict) else list(vals_list or [])
        for vals in vals_list:
            self._check_vals(vals)
        rows = [self._new_row(env, vals) for vals in vals_list]
        ids = []
        for row in rows:
            row["id"] = self.next_id
            self.next_id += 1
            if row["name"] is None:
                raise _not_null_or_fk_error("not null", "name")
            ids.append(row["id"])
        gate = self.gates.pop(0) if self.gates else None
        if gate is not None:  # ids drawn, rows not visible yet: a transaction still in flight in Postgres
            self.lock.release()
            try:
                gate.pause()
            finally:
                self.lock.acquire()
        for row in rows:
            self.rows[row["id"]] = row
        return ids

    def _existing(self, env: Env, ids: Any) -> list[int]:
        """The ids, or MissingError naming the ones that do not exist."""
        ids = _as_ids(ids)
        missing = [rid for rid in ids if rid not in self.rows]
        if missing:
            raise missing_error(MODEL, missing[:6], env.uid)
        return ids

    def write(self, env: Env, ids: Any, vals: Any) -> bool:
        """ORM ``write``: True, or MissingError and nothing written."""
        values = self._convert(self._check_vals(vals))
        if "name" in values and values["name"] is None:
            raise _not_null_or_fk_error("not null", "name")
        for rid in self._existing(env, ids):
            self.rows[rid].update(values, write_date=env.now, write_uid=env.uid)
        return True

    def unlink(self, env: Env, ids: Any) -> bool:
        """ORM ``unlink``: True, or MissingError and nothing deleted."""
        for rid in self._existing(env, ids):
            del self.rows[rid]
        return True

    def fields_get(self, env: Env, allfields: list | None = None, attributes: list | None = None) -> dict:
        """ORM ``fields_get`` for the stand-in's subset."""
        names = [n for n in (allfields or LEAD_FIELDS) if n in LEAD_FIELDS]
        described = {name: _describe(LEAD_FIELDS[name]) for name in names}
        if attributes:
            described = {n: {k: v for k, v in d.items() if k in attributes} for n, d in described.items()}
        return described


def _map_right(right: Any, convert: Callable[[Any], Any]) -> Any:
    """Apply ``convert`` to a domain value or each item of a list value."""
    if isinstance(right, (list, tuple)):
        return [convert(item) if item is not False else False for item in right]
    return right if right is False else convert(right)


def _as_ids(ids: Any) -> list[int]:
    """``browse(ids)``: an int or a list of ints."""
    if ids in (None, False):
        return []
    items = [ids] if isinstance(ids, int) else list(ids)
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in items):
        raise builtin_error("ValueError", f"Invalid ids {ids!r}")
    return items


def _describe(field: Field) -> dict:
    """``fields_get`` description of a field."""
    described = {
        "type": field.type,
        "string": field.string,
        "required": field.required,
        "readonly": field.readonly,
        "store": field.store,
    }
    if field.selection:
        described["selection"] = [list(pair) for pair in field.selection]
    if field.type == "many2one":
        described["relation"] = "res.users"
    return described


def _not_null_or_fk_error(kind: str, name: str) -> OdooError:
    """The ValidationError Odoo turns a NOT NULL / FK violation into."""
    label = LEAD_FIELDS[name].string
    if kind == "not null":
        first = "- Create/update: a mandatory field is not set."
    else:
        first = "- Create/update: a linked record does not exist."
    return user_error(
        "ValidationError",
        "The operation cannot be completed:\n"
        f"{first}\n"
        "- Delete: another model requires the record being deleted. If possible, archive it instead.\n\n"
        f"Model: Lead ({MODEL})\nField: {label} ({name})\n",
    )
