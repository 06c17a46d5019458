"""Group-by: ``formatted_read_group`` (Odoo 19) and the legacy ``read_group``.

The helpers truncate datetimes to day/month/quarter/year, label the periods and
compute SQL aggregates; :class:`GroupByMixin` gives :class:`~.table.LeadTable`
its group-by methods (row keys and ``__extra_domain``/``__domain`` as Odoo 19
builds them, see the package docstring).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .domains import (
    TRUE_LEAF,
    and_domain,
    domain_to_list,
    eval_domain,
    match_operator,
    parse_domain,
    parse_order,
    sort_by_terms,
)
from .errors import builtin_error
from .fields import DT_FORMAT, LEAD_FIELDS, MODEL

if TYPE_CHECKING:
    from .table import Env


# ---------------------------------------------------------------------------
# Group-by support
# ---------------------------------------------------------------------------

_GRANULARITIES = ("day", "month", "quarter", "year")
_AGGREGATES = frozenset({"sum", "avg", "max", "min", "count", "count_distinct", "bool_and", "bool_or", "array_agg"})


def truncate(value: dt.datetime, granularity: str) -> dt.datetime:
    """Start of the day/month/quarter/year holding ``value``."""
    if granularity == "day":
        return value.replace(hour=0, minute=0, second=0, microsecond=0)
    month = {"month": value.month, "quarter": 3 * ((value.month - 1) // 3) + 1, "year": 1}[granularity]
    return dt.datetime(value.year, month, 1)


def period_end(start: dt.datetime, granularity: str) -> dt.datetime:
    """First instant after the period beginning at ``start``."""
    if granularity == "day":
        return start + dt.timedelta(days=1)
    months = {"month": 1, "quarter": 3, "year": 12}[granularity]
    total = start.month - 1 + months
    return dt.datetime(start.year + total // 12, total % 12 + 1, 1)


def period_label(start: dt.datetime, granularity: str) -> str:
    """Babel-like en_US labels: ``29 Jan 2022``, ``January 2022``, ``Q1 2022``, ``2022``."""
    if granularity == "day":
        return start.strftime("%d %b %Y")
    if granularity == "month":
        return start.strftime("%B %Y")
    if granularity == "quarter":
        return f"Q{(start.month - 1) // 3 + 1} {start.year}"
    return str(start.year)


def aggregate(func: str, values: list[Any], monetary: bool) -> Any:
    """SQL aggregate over the values of one group (NULLs ignored)."""
    if func == "array_agg":
        return list(values)
    present = [value for value in values if value is not None]
    if func == "count":
        return len(present)
    if func == "count_distinct":
        return len(set(present))
    if not present:
        return None
    if func == "sum":
        return float(sum(Decimal(str(v)) for v in present)) if monetary else sum(present)
    if func == "avg":
        return sum(present) / len(present)
    if func in ("max", "bool_or"):
        return max(present)
    return min(present)


class GroupByMixin:
    """The group-by methods of :class:`~.table.LeadTable` (rows, users, domain search come from it)."""

    # Provided by LeadTable.
    rows: dict[int, dict]

    def _groupby_spec(self, spec: str) -> tuple[str, str, str | None]:
        """Validate ``field`` or ``datetime_field:granularity``."""
        name, _, granularity = str(spec).partition(":")
        field = LEAD_FIELDS.get(name)
        if field is None or not field.store:
            raise builtin_error("ValueError", f"Invalid field {name!r} on model {MODEL!r}")
        if field.type == "datetime":
            if granularity not in _GRANULARITIES:
                raise builtin_error(
                    "ValueError", f"Group by {spec!r}: the stand-in needs one of {', '.join(_GRANULARITIES)}"
                )
        elif granularity:
            raise builtin_error("ValueError", f"Granularity set on a no-datetime field: {spec!r}")
        return spec, name, granularity or None

    def _aggregate_spec(self, spec: str) -> tuple[str, str | None, str | None]:
        """Validate ``__count`` or ``field:func`` (Odoo's _read_group_select texts)."""
        if spec == "__count":
            return spec, None, None
        name, _, func = str(spec).partition(":")
        if name not in LEAD_FIELDS or not LEAD_FIELDS[name].store:
            raise builtin_error("ValueError", f"Invalid field {name!r} on model {MODEL!r} for {spec!r}.")
        if not func:
            raise builtin_error("ValueError", f"Aggregate method is mandatory for {name!r}")
        if func not in _AGGREGATES:
            raise builtin_error("ValueError", f"Invalid aggregate method {func!r} for {spec!r}.")
        return spec, name, func

    def _group_key(self, row: dict, gb: tuple[str, str, str | None]) -> Any:
        """Raw group value of a row (datetime truncated to the granularity)."""
        value = row.get(gb[1])
        return truncate(value, gb[2]) if gb[2] and value is not None else value

    def _aggregate_value(self, spec: str, group_rows: list[dict]) -> Any:
        """Value of one aggregate spec over the rows of a group."""
        _, name, func = self._aggregate_spec(spec)
        if name is None:
            return len(group_rows)
        values = [row.get(name) for row in group_rows]
        return aggregate(func, values, LEAD_FIELDS[name].type == "monetary")

    def read_group_raw(
        self, env: Env, domain: Any, groupby: list, aggregates: list, having: Any = (), offset=0, limit=None, order=None
    ) -> list[tuple[tuple, list]]:
        """Core of ``_read_group``: ``[(group values, aggregate values)]``."""
        gbs = [self._groupby_spec(spec) for spec in groupby]
        for spec in aggregates:
            self._aggregate_spec(spec)
        groups: dict[tuple, list[dict]] = {}
        for rid in self.domain_ids(env, domain):
            row = self.rows[rid]
            groups.setdefault(tuple(self._group_key(row, gb) for gb in gbs), []).append(row)
        if not gbs:
            groups = {(): [row for rows in groups.values() for row in rows]}
        items = self._filter_having(list(groups.items()), having)
        items = self._order_groups(items, gbs, order)
        if gbs:
            offset = offset or 0
            items = items[offset : offset + limit] if limit else items[offset:]
        return [(key, [self._aggregate_value(spec, rows) for spec in aggregates]) for key, rows in items]

    def _filter_having(self, items: list, having: Any) -> list:
        """Keep groups whose aggregates satisfy the ``having`` domain."""
        if not having:
            return items
        node = parse_domain(having, lambda spec: self._aggregate_spec(spec))

        def keep(rows: list[dict]) -> bool:
            def leaf(term: tuple) -> bool:
                value = self._aggregate_value(term[0], rows)
                return match_operator(value, term[1], term[2], lambda v: v is None)

            return eval_domain(node, leaf)

        return [(key, rows) for key, rows in items if keep(rows)]

    def _order_groups(self, items: list, gbs: list, order: str | None) -> list:
        """Order groups by group-by specs and/or aggregates (default: group-by asc)."""
        specs = [gb[0] for gb in gbs]
        if not order:
            if not specs:
                return items
            order = ", ".join(specs)

        def check(spec: str) -> None:
            if spec not in specs:
                self._aggregate_spec(spec)

        def key(item: tuple, spec: str) -> Any:
            if spec in specs:
                gb = gbs[specs.index(spec)]
                value = item[0][specs.index(spec)]
                many2one = LEAD_FIELDS[gb[1]].type == "many2one"
                return self.user_name(value) if many2one and value is not None else value
            return self._aggregate_value(spec, item[1])

        return sort_by_terms(items, parse_order(order, check), key)

    def _group_part(self, gb: tuple, value: Any) -> tuple[Any, list[list], dict | None]:
        """Formatted value, domain part and ``__range`` of one group-by value."""
        _spec, name, granularity = gb
        if value is None:
            return False, [[name, "=", False]], (False if granularity else None)
        if granularity:
            start, end = value.strftime(DT_FORMAT), period_end(value, granularity).strftime(DT_FORMAT)
            part = ["&", [name, ">=", start], [name, "<", end]]
            return (start, period_label(value, granularity)), part, {"from": start, "to": end}
        if LEAD_FIELDS[name].type == "many2one":
            return [value, self.user_name(value)], [[name, "=", value]], None
        return value, [[name, "=", value]], None

    def formatted_read_group(
        self,
        env: Env,
        domain: Any,
        groupby: list = (),
        aggregates: list = (),
        having: Any = (),
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
    ) -> list[dict]:
        """Odoo 19 ``formatted_read_group``: ``{spec: v, agg: v, "__extra_domain": [...]}``."""
        groupby = [groupby] if isinstance(groupby, str) else list(groupby or [])
        aggregates = list(aggregates or [])
        gbs = [self._groupby_spec(spec) for spec in groupby]
        result = []
        for key, values in self.read_group_raw(env, domain, groupby, aggregates, having, offset, limit, order):
            row, parts = {}, []
            for gb, value in zip(gbs, key, strict=True):
                row[gb[0]], part, _ = self._group_part(gb, value)
                parts.extend(_flatten_and(part))
            row.update({spec: (False if v is None else v) for spec, v in zip(aggregates, values, strict=True)})
            row["__extra_domain"] = domain_to_list(("and", [("leaf", tuple(p)) for p in parts])) or [list(TRUE_LEAF)]
            result.append(row)
        return result

    def read_group(
        self,
        env: Env,
        domain: Any,
        fields: list,
        groupby: Any,
        offset: int = 0,
        limit: int | None = None,
        orderby: str | bool = False,
        lazy: bool = True,
    ) -> list[dict]:
        """Legacy ``read_group`` (deprecated in 19.0), keys as Odoo 19 builds them."""
        groupby = [groupby] if isinstance(groupby, str) else list(groupby or [])
        lazy_groupby = groupby[:1] if lazy else groupby
        annotated_gb = {spec: self._legacy_groupby(spec) for spec in lazy_groupby}
        count_key = f"{lazy_groupby[0].split(':')[0]}_count" if lazy and len(lazy_groupby) == 1 else "__count"
        annotated_agg = {count_key: "__count"} | self._legacy_aggregates(fields or [], annotated_gb)
        order = self._legacy_order(orderby, annotated_gb, annotated_agg)
        base = parse_domain(domain, self.check_field)
        raw = self.read_group_raw(
            env, domain, list(annotated_gb.values()), list(annotated_agg.values()), (), offset, limit, order
        )
        return [
            self._legacy_row(key, values, annotated_gb, annotated_agg, base, groupby, lazy_groupby)
            for key, values in raw
        ]

    def _legacy_groupby(self, spec: str) -> str:
        """Date/datetime group-bys default to ``:month`` in the legacy API."""
        name = spec.split(":")[0]
        if name in LEAD_FIELDS and LEAD_FIELDS[name].type == "datetime" and ":" not in spec:
            return f"{name}:month"
        return spec

    def _legacy_aggregates(self, fields: list, annotated_gb: dict) -> dict[str, str]:
        """``name``, ``name:agg`` or ``alias:agg(name)`` -> ``{key: "name:agg"}``."""
        result = {}
        for spec in fields:
            if spec == "__count":
                continue
            match = re.fullmatch(r"(\w+)(?::(\w+)(?:\((\w+)\))?)?", spec)
            if not match:
                raise builtin_error("ValueError", f"Invalid field specification {spec!r}.")
            name, func, fname = match.groups()
            if func:
                result[name] = f"{fname or name}:{func}"
                continue
            field = LEAD_FIELDS.get(name)
            if field is None:
                raise builtin_error("ValueError", f"Invalid field {name!r} on model {MODEL!r}")
            if field.store and field.aggregator and spec not in annotated_gb:
                result[name] = f"{name}:{field.aggregator}"
        return result

    @staticmethod
    def _legacy_order(orderby: Any, annotated_gb: dict, annotated_agg: dict) -> str | None:
        """Map ``name desc`` onto the annotated group-by/aggregate specs."""
        if not orderby:
            return ", ".join(annotated_gb.values()) or None
        terms = []
        for term in str(orderby).split(","):
            term = term.strip()
            for key, annotated in list(reversed(annotated_gb.items())) + list(annotated_agg.items()):
                key = key.split(":")[0]
                if term == key or term.startswith(f"{key} "):
                    term = annotated + term[len(key) :]
                    break
            terms.append(term)
        return ", ".join(terms)

    def _legacy_row(self, key, values, annotated_gb, annotated_agg, base, groupby, lazy_groupby) -> dict:
        """One legacy group: labels for dates, ``__range``, ``__domain``, ``__context``."""
        row, parts = {}, []
        for (spec, annotated), value in zip(annotated_gb.items(), key, strict=True):
            gb = self._groupby_spec(annotated)
            formatted, part, period = self._group_part(gb, value)
            row[spec] = formatted[1] if isinstance(formatted, tuple) else formatted
            if period is not None:
                row.setdefault("__range", {})[spec] = period
            parts.extend(_flatten_and(part))
        row.update({name: (False if v is None else v) for name, v in zip(annotated_agg, values, strict=True)})
        row["__domain"] = and_domain(base, parts)
        if len(lazy_groupby) < len(groupby):
            row["__context"] = {"group_by": groupby[len(lazy_groupby) :]}
        return row


def _flatten_and(part: list) -> list[list]:
    """``["&", a, b]`` -> ``[a, b]``; a single leaf list stays as is."""
    return [item for item in part if item != "&"]
