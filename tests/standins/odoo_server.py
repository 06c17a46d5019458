"""A local stand-in for an Odoo 19 server, limited to ``crm.lead``.

It speaks the three wire formats a client of Odoo 19 meets, over real HTTP:

* ``GET /web/version``;
* legacy ``POST /jsonrpc`` (JSON-RPC 2.0, services ``common``, ``object``, ``db``);
* JSON-2 ``POST /json/2/<model>/<method>`` with a bearer API key.

and keeps ``crm.lead`` rows in memory (one lock, one snapshot per request, so a
failing request changes nothing). Faults can be injected at run time.

What the shapes are based on (public sources, read with the search tool; Odoo
``19.0`` unless said otherwise):

* ``addons/web/controllers/json2.py`` (odoo/odoo): JSON-2 dispatch. The body is
  merged into the route params with ``dict |=`` (bad JSON or a non-mapping gives
  400), ``inspect.signature(...).bind`` errors give 422, ``ids`` on an
  ``@api.model`` method gives 422, unknown model/method 404, non-POST 405; errors
  are ``http.serialize_exception(exc)`` with status ``exc.http_status`` for a
  ``UserError``, ``exc.code`` for a werkzeug ``HTTPException`` and 500 for
  anything else (so ``ValueError("Invalid field ...")`` is a 500).
* ``odoo/http.py``: ``serialize_exception`` -> ``{name, message, arguments,
  context, debug}``; ``JsonRPCDispatcher.handle_error`` -> ``{"code": 0,
  "message": "Odoo Server Error", "data": ...}`` (``code`` 404 for NotFound,
  100 for SessionExpired), always HTTP 200; invalid JSON -> 400 "Invalid JSON
  data"; a request whose Content-Type no dispatcher of the route accepts -> 415
  (werkzeug HTML page), checked before authentication.
* ``odoo/addons/base/models/ir_http.py`` ``_auth_method_bearer``: 401 with
  ``Invalid apikey`` or ``User not authenticated, use an API Key with a Bearer
  Authorization header.`` and ``WWW-Authenticate: bearer``; the scheme is matched
  case-insensitively.
* ``odoo/exceptions.py``: ``UserError``/``ValidationError`` 422, ``AccessError``
  and ``AccessDenied`` 403, ``MissingError`` 404.
* ``odoo/service/common.py``: ``exp_version`` returns ``RPC_VERSION_1`` =
  ``server_version``, ``server_version_info``, ``server_serie``,
  ``protocol_version: 1``; ``exp_authenticate`` opens ``Registry(db)`` (so an
  unknown database is a ``psycopg2.OperationalError``) and returns ``False`` on
  ``AccessDenied``.
* ``odoo/orm/models.py``: ``ValueError(f"Invalid field {name!r} in
  {self._name!r}")`` in create/write, ``... on {self._name!r}`` in read; legacy
  ``read_group`` (deprecated in 19.0) keys ``<field>_count`` when lazy with one
  group-by, else ``__count``, and ``__domain`` = request domain AND group
  condition; ``formatted_read_group(domain, groupby=(), aggregates=(),
  having=(), offset=0, limit=None, order=None)`` rows are ``{spec: value,
  "field:agg": value, "__extra_domain": [...]}`` (``[(1, "=", 1)]`` without
  group-by, date groups as ``(start, label)``) -- see
  ``odoo/addons/test_read_group/tests``.
* ``addons/crm/models/crm_lead.py``: field subset, types, defaults and indexes
  (``name``, ``partner_name``, ``contact_name``, ``email_from``,
  ``email_normalized`` trigram; ``type``, ``priority``, ``user_id`` btree; a
  composite ``(create_date, team_id)``); ``_order = "priority desc, id desc"``;
  ``probability`` aggregates with ``avg``. There is no ``ref`` and no
  ``mobile`` in this subset, and ``lang_code`` is a non-stored related field
  (writes are lost).
* ``/work/shared/ODOO_NOTES.md``: observed behaviour (type defaults to
  opportunity, html rewriting, MissingError text, 422 for a list body).

Deliberate simplifications: one company, one currency (monetary rounded to
0.01), no timezone conversion (everything UTC), no access rules, Python string
ordering instead of a database collation, HTML sanitising approximated.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import inspect
import json
import random
import re
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .loopback import LoopbackServer

DEBUG_MARKER = "FAKE-ODOO-TRACEBACK"
FAULTS = frozenset({"refused", "timeout", "http500", "access_error", "validation_error", "drop_after_commit"})
MODEL = "crm.lead"
DT_FORMAT = "%Y-%m-%d %H:%M:%S"
MISSING_KEY_MSG = "User not authenticated, use an API Key with a Bearer Authorization header."


# ---------------------------------------------------------------------------
# Errors, serialized like odoo.http.serialize_exception
# ---------------------------------------------------------------------------


class OdooError(Exception):
    """An exception as Odoo puts it on the wire (name, message, HTTP status)."""

    def __init__(self, name: str, message: str, status: int = 500, arguments: list | None = None):
        super().__init__(message)
        self.name = name
        self.message = message
        self.status = status
        self.arguments = [message] if arguments is None else arguments

    def serialize(self) -> dict[str, Any]:
        """Return the ``serialize_exception`` dict, with a fake traceback."""
        return {
            "name": self.name,
            "message": self.message,
            "arguments": list(self.arguments),
            "context": {},
            "debug": _fake_traceback(self.name, self.message),
        }


_USER_ERROR_STATUS = {
    "UserError": 422,
    "ValidationError": 422,
    "AccessError": 403,
    "AccessDenied": 403,
    "MissingError": 404,
}
_HTTP_NAMES = {
    400: "BadRequest",
    401: "Unauthorized",
    404: "NotFound",
    405: "MethodNotAllowed",
    415: "UnsupportedMediaType",
    422: "UnprocessableEntity",
    500: "InternalServerError",
}


def user_error(kind: str, message: str) -> OdooError:
    """Build an ``odoo.exceptions.<kind>`` (status from ``http_status``)."""
    return OdooError(f"odoo.exceptions.{kind}", message, _USER_ERROR_STATUS[kind])


def builtin_error(kind: str, message: str) -> OdooError:
    """Build a ``builtins.<kind>``: JSON-2 answers those with a 500."""
    return OdooError(f"builtins.{kind}", message, 500)


def http_error(status: int, description: str) -> OdooError:
    """Build a werkzeug HTTP exception as JSON-2 serializes it."""
    name = f"werkzeug.exceptions.{_HTTP_NAMES[status]}"
    return OdooError(name, description, status, [description, status])


def missing_error(model: str, ids: Iterable[int], uid: int) -> OdooError:
    """MissingError with Odoo's text (``Record: crm.lead(9,), User: 2``)."""
    record = f"{model}{tuple(ids)!r}"
    return user_error(
        "MissingError",
        f"Record does not exist or has been deleted.\n(Record: {record}, User: {uid})",
    )


def _fake_traceback(name: str, message: str) -> str:
    """A traceback-looking text carrying DEBUG_MARKER, never to be shown to users."""
    return (
        "Traceback (most recent call last):\n"
        '  File "/opt/odoo/odoo/http.py", line 2180, in _serve_db\n'
        "    return service_model.retrying(serve_func, env=self.env)\n"
        f'  File "/opt/odoo/odoo/{DEBUG_MARKER}.py", line 1, in fake\n'
        f"{name}: {message}\n"
    )


# ---------------------------------------------------------------------------
# Field model of crm.lead (subset of addons/crm/models/crm_lead.py)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One field: type, label and the ORM attributes the stand-in honours."""

    type: str
    string: str
    required: bool = False
    default: Any = None
    selection: tuple[tuple[str, str], ...] = ()
    aggregator: str | None = None
    store: bool = True
    readonly: bool = False
    index: str | None = None


def _lead_fields() -> dict[str, Field]:
    """The crm.lead subset; indexes as declared in Odoo 19's crm_lead.py."""
    char = {
        "referred": "Referred By",
        "function": "Job Position",
        "website": "Website",
        "street": "Street",
        "street2": "Street2",
        "zip": "Zip",
        "city": "City",
        "phone": "Phone",
    }
    fields = {
        "id": Field("integer", "ID", readonly=True),
        "display_name": Field("char", "Display Name", store=False, readonly=True),
        "name": Field("char", "Opportunity", required=True, index="trigram"),
        "type": Field(
            "selection",
            "Type",
            required=True,
            default="opportunity",
            selection=(("lead", "Lead"), ("opportunity", "Opportunity")),
            index="btree",
        ),
        "active": Field("boolean", "Active", default=True),
        "priority": Field(
            "selection",
            "Priority",
            default="0",
            selection=(("0", "Low"), ("1", "Medium"), ("2", "High"), ("3", "Very High")),
            index="btree",
        ),
        "color": Field("integer", "Color Index", default=0, aggregator="sum"),
        "expected_revenue": Field("monetary", "Expected Revenue", default=0.0, aggregator="sum"),
        "recurring_revenue": Field("monetary", "Recurring Revenues", default=0.0, aggregator="sum"),
        "probability": Field("float", "Probability", default=0.0, aggregator="avg"),
        "description": Field("html", "Notes"),
        "partner_name": Field("char", "Company Name", index="trigram"),
        "contact_name": Field("char", "Contact Name", index="trigram"),
        "email_from": Field("char", "Email", index="trigram"),
        "email_normalized": Field("char", "Normalized Email", readonly=True, index="trigram"),
        "lang_code": Field("char", "Language Code", store=False),
        "user_id": Field("many2one", "Salesperson", index="btree"),
        "create_date": Field("datetime", "Created on", readonly=True),
        "create_uid": Field("many2one", "Created by", readonly=True),
        "write_date": Field("datetime", "Last Updated on", readonly=True),
        "write_uid": Field("many2one", "Last Updated by", readonly=True),
    }
    fields.update({name: Field("char", label) for name, label in char.items()})
    return fields


LEAD_FIELDS = _lead_fields()
LEAD_ORDER = "priority desc, id desc"
USER_FIELDS = ("id", "name", "login", "active")


# ---------------------------------------------------------------------------
# Value conversion (convert_to_cache / convert_to_read)
# ---------------------------------------------------------------------------


def _round_money(value: float) -> float:
    """Round like a 2-decimal currency (float_round, half-up)."""
    return float(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _email_normalize(value: str | None) -> str | None:
    """Lower-cased address when ``value`` holds exactly one e-mail, else None."""
    found = re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", value or "")
    return found[0].lower() if len(found) == 1 else None


def parse_datetime(value: Any) -> dt.datetime | None:
    """Parse an Odoo datetime/date string (or pass a datetime through)."""
    if value in (None, False, ""):
        return None
    if isinstance(value, dt.datetime):
        return value
    text = str(value)
    try:
        return dt.datetime.strptime(text[:19], DT_FORMAT if len(text) > 10 else "%Y-%m-%d")
    except ValueError:
        raise builtin_error("ValueError", f"time data {text!r} does not match format") from None


def convert_to_cache(name: str, field: Field, value: Any) -> Any:
    """Turn an RPC value into the stored Python value, as the ORM does."""
    if field.type in ("char", "html"):
        if value is None or value is False:
            return None
        text = str(value)
        return sanitize_html(text) if field.type == "html" else text
    if field.type == "integer":
        return _coerce(name, int, value or 0)
    if field.type in ("float", "monetary"):
        number = _coerce(name, float, value or 0.0)
        return _round_money(number) if field.type == "monetary" else number
    if field.type == "boolean":
        return bool(value)
    if field.type == "selection":
        if value is None or value is False:
            return None
        if value not in dict(field.selection):
            raise builtin_error("ValueError", f"Wrong value for {MODEL}.{name}: {value!r}")
        return value
    if field.type == "many2one":
        if value is None or value is False:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise builtin_error("ValueError", f"Wrong value for {MODEL}.{name}: {value!r}")
        return value
    return value


def _coerce(name: str, kind: type, value: Any) -> Any:
    """``int(value)``/``float(value)`` with the ValueError Odoo would leak."""
    try:
        return kind(value)
    except (TypeError, ValueError) as exc:
        raise builtin_error("ValueError", f"{exc} (field {MODEL}.{name})") from None


# ---------------------------------------------------------------------------
# HTML rewriting of Html fields (approximates odoo.tools.mail.html_sanitize)
# ---------------------------------------------------------------------------

_KILL_TAGS = frozenset(
    {"script", "style", "iframe", "object", "embed", "frame", "head", "link", "meta", "noscript", "title", "base"}
)
_VOID_TAGS = frozenset({"br", "hr", "img", "embed", "link", "meta", "base", "frame"})
_KEEP_TAGS = frozenset(
    {"p", "div", "span", "b", "i", "u", "s", "strong", "em", "br", "hr", "ul", "ol", "li", "a"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "code", "img", "font", "small"}
    | {"table", "thead", "tbody", "tfoot", "tr", "td", "th", "sub", "sup", "strike"}
)
_KEEP_ATTRS = frozenset(
    {"href", "src", "alt", "title", "class", "target", "rel", "width", "height", "colspan", "rowspan", "align"}
)


class _Sanitizer(HTMLParser):
    """Rebuild HTML keeping safe tags/attributes; see ``sanitize_html``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.killing: list[str] = []
        self.top_level_text = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open a kept tag, start skipping a killed one, unwrap the others."""
        if self.killing or tag in _KILL_TAGS:
            if tag in _KILL_TAGS and tag not in _VOID_TAGS:
                self.killing.append(tag)
            return
        if tag not in _KEEP_TAGS:
            return
        self.out.append(f"<{tag}{_render_attrs(attrs)}>")
        if tag not in _VOID_TAGS:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        """Close a kept tag (and the ones left open inside it)."""
        if self.killing:
            if tag == self.killing[-1]:
                self.killing.pop()
            return
        if tag not in self.open:
            return
        while self.open:
            last = self.open.pop()
            self.out.append(f"</{last}>")
            if last == tag:
                return

    def handle_data(self, data: str) -> None:
        """Escape text; remember text sitting outside any element."""
        if self.killing:
            return
        if not self.open and data.strip():
            self.top_level_text = True
        self.out.append(html.escape(data, quote=False))

    def result(self) -> str:
        """The rewritten fragment, wrapped in ``<p>`` when it had bare text."""
        self.out.extend(f"</{tag}>" for tag in reversed(self.open))
        text = "".join(self.out)
        return f"<p>{text}</p>" if self.top_level_text else text


def _render_attrs(attrs: list[tuple[str, str | None]]) -> str:
    """Kept attributes only; ``javascript:`` URLs are emptied, ``on*`` dropped."""
    parts = []
    for name, value in attrs:
        if name not in _KEEP_ATTRS:
            continue
        value = value or ""
        if name in ("href", "src") and value.strip().lower().startswith("javascript:"):
            value = ""
        parts.append(f' {name}="{html.escape(value, quote=True)}"')
    return "".join(parts)


def sanitize_html(text: str) -> str:
    """Rewrite ``text`` like an Odoo Html field: ``a<b`` -> ``<p>a&lt;b</p>``."""
    parser = _Sanitizer()
    parser.feed(text)
    parser.close()
    return parser.result()


# ---------------------------------------------------------------------------
# Domains (prefix notation, implicit AND)
# ---------------------------------------------------------------------------

_OPERATORS = frozenset(
    {"=", "!=", "<", "<=", ">", ">=", "in", "not in", "like", "ilike", "not like", "not ilike", "=like", "=ilike", "=?"}
)
TRUE_LEAF = (1, "=", 1)
FALSE_LEAF = (0, "=", 1)


def parse_domain(domain: Any, check_field: Callable[[str], None]) -> tuple:
    """Parse a domain list into a tree ``("and"|"or", [..]) / ("not", n) / ("leaf", t)``."""
    if domain in (None, False):
        domain = []
    if not isinstance(domain, (list, tuple)):
        raise builtin_error("ValueError", f"Invalid domain: {domain!r}")
    stack: list[tuple] = []
    for item in reversed(domain):
        if item in ("&", "|"):
            if len(stack) < 2:
                raise builtin_error("ValueError", f"Invalid domain: {domain!r}")
            first, second = stack.pop(), stack.pop()
            stack.append(("and" if item == "&" else "or", [first, second]))
        elif item == "!":
            if not stack:
                raise builtin_error("ValueError", f"Invalid domain: {domain!r}")
            stack.append(("not", stack.pop()))
        else:
            stack.append(("leaf", _parse_leaf(item, check_field)))
    return ("and", list(reversed(stack)))


def _parse_leaf(item: Any, check_field: Callable[[str], None]) -> tuple:
    """Validate one ``[field, operator, value]`` term."""
    if not isinstance(item, (list, tuple)) or len(item) != 3:
        raise builtin_error("ValueError", f"Invalid domain term {item!r}")
    leaf = (item[0], item[1], item[2])
    if tuple(leaf) in (TRUE_LEAF, FALSE_LEAF):
        return leaf
    if not isinstance(leaf[0], str):
        raise builtin_error("ValueError", f"Invalid domain term {item!r}")
    check_field(leaf[0])
    if not isinstance(leaf[1], str) or leaf[1].lower() not in _OPERATORS:
        raise builtin_error("ValueError", f"Invalid operator {leaf[1]!r} in leaf {leaf!r}")
    return (leaf[0], leaf[1].lower(), leaf[2])


def eval_domain(node: tuple, match_leaf: Callable[[tuple], bool]) -> bool:
    """Evaluate a parsed domain with ``match_leaf`` for the leaves."""
    kind = node[0]
    if kind == "leaf":
        if node[1] in (TRUE_LEAF, FALSE_LEAF):
            return node[1] == TRUE_LEAF
        return match_leaf(node[1])
    if kind == "not":
        return not eval_domain(node[1], match_leaf)
    results = (eval_domain(child, match_leaf) for child in node[1])
    return all(results) if kind == "and" else any(results)


def domain_mentions(node: tuple, field_name: str) -> bool:
    """True when any leaf of ``node`` is on ``field_name`` (the active_test rule)."""
    if node[0] == "leaf":
        return node[1][0] == field_name
    if node[0] == "not":
        return domain_mentions(node[1], field_name)
    return any(domain_mentions(child, field_name) for child in node[1])


def domain_to_list(node: tuple) -> list:
    """Serialize a tree back to prefix notation, flattening nested ANDs."""
    if node[0] == "leaf":
        return [list(node[1])]
    if node[0] == "not":
        return ["!", *domain_to_list(node[1])]
    children = node[1]
    if not children:
        return []
    operator = "&" if node[0] == "and" else "|"
    items: list = [operator] * (len(children) - 1)
    for child in children:
        items.extend(domain_to_list(child))
    return items


def and_domain(base: tuple, extra: list[list]) -> list:
    """``Domain(base) & Domain(extra)`` flattened like Odoo 19's Domain."""
    conjuncts = list(base[1]) if base[0] == "and" else [base]
    conjuncts += [("leaf", tuple(leaf)) for leaf in extra]
    return domain_to_list(("and", conjuncts))


def like_to_regex(pattern: str, wrap: bool, ignore_case: bool) -> re.Pattern:
    """SQL LIKE pattern (``%``, ``_``, backslash escape) as a regex."""
    out, chars = [], iter(pattern)
    for char in chars:
        if char == "\\":
            out.append(re.escape(next(chars, "\\")))
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    body = "".join(out)
    if wrap:
        body = f".*{body}.*"
    return re.compile(f"^{body}$", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def match_operator(value: Any, operator: str, right: Any, empty: Callable[[Any], bool]) -> bool:
    """SQL-ish comparison of a stored ``value`` against ``right``.

    ``empty`` says which stored values count as ``False`` (NULL, or '' on text).
    """
    if operator == "=?":
        return True if right in (None, False, "") else match_operator(value, "=", right, empty)
    if operator in ("=", "!="):
        equal = empty(value) if right is False or right is None else value == right
        return equal if operator == "=" else not equal
    if operator in ("in", "not in"):
        items = right if isinstance(right, (list, tuple)) else [right]
        found = any(match_operator(value, "=", item, empty) for item in items)
        return found if operator == "in" else not found
    if "like" in operator:
        return _match_like(value, operator, right)
    return _match_order(value, operator, right)


def _match_like(value: Any, operator: str, right: Any) -> bool:
    """like/ilike (wrapped in %), =like/=ilike (raw), and their negations."""
    negate = operator.startswith("not ")
    base = operator.removeprefix("not ")
    if value is None or value is False:
        return negate
    regex = like_to_regex(str(right), wrap=not base.startswith("="), ignore_case="ilike" in base)
    found = bool(regex.match(str(value)))
    return not found if negate else found


def _match_order(value: Any, operator: str, right: Any) -> bool:
    """``<``, ``<=``, ``>``, ``>=``; NULL never matches."""
    if value is None or right is None or right is False:
        return False
    try:
        if operator == "<":
            return value < right
        if operator == "<=":
            return value <= right
        if operator == ">":
            return value > right
        return value >= right
    except TypeError:
        raise builtin_error("ValueError", f"Cannot compare {value!r} {operator} {right!r}") from None


# ---------------------------------------------------------------------------
# Orders
# ---------------------------------------------------------------------------

_ORDER_TERM = re.compile(r"^\s*([\w.:]+)(?:\s+(asc|desc))?(?:\s+nulls\s+(first|last))?\s*$", re.I)


def parse_order(order: str, check: Callable[[str], None]) -> list[tuple[str, bool, bool]]:
    """``"a desc, b"`` -> ``[(name, descending, nulls_first)]`` (Postgres NULL rules)."""
    terms = []
    for term in order.split(","):
        match = _ORDER_TERM.match(term)
        if not match:
            raise builtin_error("ValueError", f"Invalid order {order!r}")
        name, direction, nulls = match.groups()
        descending = (direction or "asc").lower() == "desc"
        check(name)
        nulls_first = descending if nulls is None else nulls.lower() == "first"
        terms.append((name, descending, nulls_first))
    return terms


def sort_by_terms(items: list, terms: list[tuple[str, bool, bool]], key: Callable[[Any, str], Any]) -> list:
    """Stable multi-key sort honouring direction and NULL placement per term."""
    result = list(items)
    for name, descending, nulls_first in reversed(terms):
        present = [item for item in result if key(item, name) is not None]
        absent = [item for item in result if key(item, name) is None]
        present.sort(key=lambda item, n=name: key(item, n), reverse=descending)
        result = absent + present if nulls_first else present + absent
    return result


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


# ---------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------


@dataclass
class Env:
    """What one request runs as: user, context and transaction time."""

    uid: int
    context: dict
    now: dt.datetime


class LeadTable:
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
            converted["email_normalized"] = _email_normalize(converted["email_from"])
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

    # -- group by ------------------------------------------------------------

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


# ---------------------------------------------------------------------------
# Method table: which ORM methods are public, and how they bind
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Method:
    """A callable ORM method: ``model_level`` methods refuse ``ids``."""

    name: str
    model_level: bool

    def impl(self, table: LeadTable) -> Callable:
        """The bound LeadTable implementation."""
        return getattr(table, self.name)

    def signature(self, table: LeadTable) -> inspect.Signature:
        """The RPC-visible signature (without ``env`` and ``ids``)."""
        sig = inspect.signature(self.impl(table))
        params = list(sig.parameters.values())[1 if self.model_level else 2 :]
        return sig.replace(parameters=params)


METHODS = {
    method.name: method
    for method in (
        Method("search", True),
        Method("search_count", True),
        Method("search_read", True),
        Method("read", False),
        Method("create", True),
        Method("write", False),
        Method("unlink", False),
        Method("read_group", True),
        Method("formatted_read_group", True),
        Method("fields_get", True),
    )
}


# ---------------------------------------------------------------------------
# Fault injection
# ---------------------------------------------------------------------------


class Gate:
    """A test hook that holds one request at a point until released (``hold``)."""

    def __init__(self, timeout_s: float = 60.0) -> None:
        self.reached = threading.Event()
        self._go = threading.Event()
        self.timeout_s = timeout_s

    def pause(self) -> None:
        self.reached.set()
        self._go.wait(self.timeout_s)

    def release(self) -> None:
        self._go.set()

    def wait_reached(self, timeout_s: float = 30.0) -> None:
        if not self.reached.wait(timeout_s):
            raise TimeoutError("the held request never arrived")


class FaultPlan:
    """The current fault, its rate, method filter, seeded RNG and budget."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fault: str | None = None
        self.rate = 1.0
        self.methods: frozenset[str] | None = None
        self.rng = random.Random()
        self.times: int | None = None
        self.hang_s = 30.0

    def set(self, fault: str | None, rate: float, methods, seed, times: int | None, hang_s: float) -> None:
        """Replace the plan (``fault=None`` clears it)."""
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {sorted(FAULTS)}")
        with self.lock:
            self.fault, self.rate, self.times, self.hang_s = fault, rate, times, hang_s
            self.methods = frozenset(methods) if methods else None
            self.rng = random.Random(seed)

    def pick(self, method: str) -> str | None:
        """The fault to apply to one request for ``method``, if any."""
        with self.lock:
            if self.fault is None or (self.methods and method not in self.methods):
                return None
            if self.times is not None and self.times <= 0:
                return None
            if self.rng.random() >= self.rate:
                return None
            if self.times is not None:
                self.times -= 1
            return self.fault


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------


@dataclass
class Reply:
    """An HTTP answer; ``drop`` closes the connection instead of sending it."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    drop: bool = False


class Dropped(Exception):
    """Raised to abandon a request without answering it."""


def json_reply(payload: Any, status: int = 200, headers: tuple = ()) -> Reply:
    """A JSON answer (``make_json_response``)."""
    return Reply(status, json.dumps(payload, ensure_ascii=False).encode(), headers=headers)


def html_reply(status: int, title: str, description: str) -> Reply:
    """A werkzeug HTML error page."""
    page = (
        "<!doctype html>\n<html lang=en>\n"
        f"<title>{status} {title}</title>\n<h1>{title}</h1>\n<p>{_markup_escape(description)}</p>\n"
    )
    return Reply(status, page.encode(), "text/html; charset=utf-8")


def _markup_escape(text: str) -> str:
    """Escape like markupsafe (werkzeug's error pages): quotes as ``&#39;``/``&#34;``."""
    return html.escape(text).replace("&#x27;", "&#39;").replace("&quot;", "&#34;")


def jsonrpc_error(request_id: Any, error: OdooError, major: int = 19) -> Reply:
    """The legacy JSON-RPC error envelope, HTTP 200: ``code`` 0 in Odoo 19, 200 up to 18.0 (ODOO_NOTES)."""
    code, message = (404, "404: Not Found") if error.name.endswith(".NotFound") else (0, "Odoo Server Error")
    if code == 0 and major < 19:
        code = 200
    envelope = {"code": code, "message": message, "data": error.serialize()}
    return json_reply({"jsonrpc": "2.0", "id": request_id, "error": envelope})


def json2_error(error: OdooError) -> Reply:
    """A JSON-2 error: the serialized exception with its HTTP status."""
    headers = (("WWW-Authenticate", "bearer"),) if error.status == 401 else ()
    return json_reply(error.serialize(), error.status, headers)


def _injected_error(fault: str) -> OdooError:
    """The error an ``access_error``/``validation_error`` fault raises."""
    if fault == "access_error":
        return user_error("AccessError", f"You are not allowed to access 'Lead' ({MODEL}) records. (injected fault)")
    return user_error("ValidationError", "Injected validation error (stand-in fault).")


def _mimetype(headers) -> str:
    """Content-Type without parameters, lower-cased."""
    return (headers.get("Content-Type") or "").split(";")[0].strip().lower()


class OdooApp:
    """Routes requests to the three protocols; holds the table and users."""

    def __init__(self, *, db: str, login: str, api_key: str, uid: int, user_name: str, major: int = 19):
        self.db, self.login, self.api_key, self.uid = db, login, api_key, uid
        self.major = major
        self.version_info = [major, 0, 0, "final", 0, ""]
        self.server_version = f"{major}.0"
        users = {
            1: {"id": 1, "name": "OdooBot", "login": "__system__", "active": False},
            uid: {"id": uid, "name": user_name, "login": login, "active": True},
        }
        self.table = LeadTable(users)
        self.clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None)

    # -- labels for counting and faults -----------------------------------------

    @staticmethod
    def label(path: str, body: bytes) -> tuple[str, str]:
        """``(protocol, method)`` of a request, for calls() and fault filters."""
        if path == "/web/version":
            return "web", "version"
        if path.startswith("/json/2/"):
            return "json2", path.rstrip("/").rsplit("/", 1)[-1]
        if path == "/jsonrpc":
            return "jsonrpc", _jsonrpc_method(body)
        return "http", path

    # -- dispatch ------------------------------------------------------------------

    def handle(self, verb: str, path: str, headers, body: bytes) -> Reply:
        """Answer one HTTP request."""
        if path == "/web/version":
            return json_reply({"version_info": self.version_info, "version": self.server_version})
        if path == "/jsonrpc":
            return self.jsonrpc(verb, headers, body)
        match = re.fullmatch(r"/json/2/([\w.]+)/(\w+)", path)
        if match and self.major >= 19:  # JSON-2 is new in Odoo 19
            return self.json2(verb, headers, body, match.group(1), match.group(2))
        return html_reply(404, "Not Found", "The requested URL was not found on the server.")

    def run(
        self,
        model: str,
        method_name: str,
        uid: int,
        context: Any,
        ids: Any,
        args: list,
        kwargs: dict,
        shape: Callable[[Any], Any] | None = None,
    ) -> Any:
        """Bind and run an ORM method in one transaction (``shape`` builds the answer inside it)."""
        method = self._method(model, method_name)
        env = Env(uid, dict(context or {}), self.clock())
        impl = method.impl(self.table)
        bound = method.signature(self.table).bind(*args, **kwargs)
        with self.table.transaction():
            if method.model_level:
                result = impl(env, *bound.args, **bound.kwargs)
            else:
                result = impl(env, ids, *bound.args, **bound.kwargs)
            return shape(result) if shape else result

    def _method(self, model: str, name: str) -> Method:
        """The public method, or the AttributeError Odoo raises."""
        if model != MODEL:
            raise user_error("UserError", f"Object {model} doesn't exist")
        if name.startswith("_"):
            raise builtin_error(
                "AttributeError", f"Private methods (such as '{model}.{name}') cannot be called remotely."
            )
        if name not in METHODS:
            raise builtin_error("AttributeError", f"The method '{model}.{name}' does not exist")
        return METHODS[name]

    # -- legacy JSON-RPC -------------------------------------------------------------

    def jsonrpc(self, verb: str, headers, body: bytes) -> Reply:
        """``POST /jsonrpc``: envelope in, envelope out (HTTP 200 even on error)."""
        if verb != "POST":
            return html_reply(405, "Method Not Allowed", "The method is not allowed for the requested URL.")
        if _mimetype(headers) not in ("application/json", "application/json-rpc"):
            return _unsupported_media("jsonrpc")
        try:
            request = json.loads(body or b"null")
            request_id = request.get("id")
            params = request.get("params", {})
        except ValueError:
            return Reply(400, b"Invalid JSON data", "text/html; charset=utf-8")
        except AttributeError:
            return Reply(400, b"Invalid JSON-RPC data", "text/html; charset=utf-8")
        try:
            if not isinstance(params, dict):
                raise builtin_error("TypeError", "params must be an object")
            service, method, args = _bind_call(("service", "method", "args"), params)
            result = self.dispatch_rpc(service, method, args)
        except OdooError as error:
            return jsonrpc_error(request_id, error, self.major)
        return json_reply({"jsonrpc": "2.0", "id": request_id, "result": result})

    def dispatch_rpc(self, service: str, method: str, args: Any) -> Any:
        """``odoo.http.dispatch_rpc``: common / object / db services."""
        args = list(args) if isinstance(args, (list, tuple)) else [args]
        if service == "common":
            return self.common(method, args)
        if service == "object":
            return self.object(method, args)
        if service == "db" and method == "list":
            return [self.db]
        raise builtin_error("KeyError", repr(service))

    def common(self, method: str, args: list) -> Any:
        """``odoo/service/common.py``."""
        if method == "version":
            return {
                "server_version": self.server_version,
                "server_version_info": self.version_info,
                "server_serie": self.server_version,
                "protocol_version": 1,
            }
        if method in ("authenticate", "login"):
            names = (
                ("db", "login", "password", "user_agent_env")
                if method == "authenticate"
                else ("db", "login", "password")
            )
            db, login, password, *_ = _bind_call(names, args)
            self._check_db(db)
            return self.uid if login == self.login and password == self.api_key else False
        raise builtin_error("Exception", f"Method not found: {method}")

    def object(self, method: str, args: list) -> Any:
        """``odoo/service/model.py``: security.check, then execute(_kw)."""
        if len(args) < 3:
            raise builtin_error("TypeError", "execute_kw() missing db, uid or password")
        db, uid, password = args[0], args[1], args[2]
        if isinstance(uid, bool) or not isinstance(uid, (int, str)) or not str(uid).lstrip("-").isdigit():
            raise builtin_error("ValueError", f"invalid literal for int() with base 10: {uid!r}")
        uid = int(uid)
        self._check_credentials(db, uid, password)
        if method == "execute_kw":
            model, name, call_args, call_kwargs = _bind_call(("model", "method", "args", "kw"), args[3:], optional=1)
            return self.execute(uid, model, name, list(call_args or []), dict(call_kwargs or {}))
        if method == "execute":
            model, name, *call_args = args[3:]
            return self.execute(uid, model, name, call_args, {})
        raise builtin_error("NameError", f"Method not available {method}")

    def execute(self, uid: int, model: str, name: str, args: list, kwargs: dict) -> Any:
        """``api.call_kw``: ids first for record methods, context from kwargs."""
        method = self._method(model, name)
        context = kwargs.pop("context", None)
        ids = None
        if not method.model_level:
            if not args:
                raise builtin_error("IndexError", "list index out of range")
            ids, args = args[0], args[1:]
        shape = _create_answer(args) if name == "create" else None
        try:
            return self.run(model, name, uid, context, ids, args, kwargs, shape=shape)
        except TypeError as exc:
            raise builtin_error("TypeError", f"{model}.{name}() {exc}") from None

    def _check_db(self, db: Any) -> None:
        """``Registry(db)`` on a database that does not exist."""
        if db != self.db:
            raise OdooError(
                "psycopg2.OperationalError",
                f'connection to server at "localhost" (127.0.0.1), port 5432 failed: '
                f'FATAL:  database "{db}" does not exist\n',
            )

    def _check_credentials(self, db: Any, uid: int, password: Any) -> None:
        """``res.users.check``: unknown uid -> MissingError, bad key -> AccessDenied."""
        self._check_db(db)
        if uid not in self.table.users:
            raise missing_error("res.users", [uid], uid)
        user = self.table.users[uid]
        if not password or not user["active"] or uid != self.uid or password != self.api_key:
            raise user_error("AccessDenied", "Access Denied")

    # -- JSON-2 ------------------------------------------------------------------------

    def json2(self, verb: str, headers, body: bytes, model: str, method_name: str) -> Reply:
        """``POST /json/2/<model>/<method>`` (addons/web/controllers/json2.py)."""
        if _mimetype(headers) != "application/json":
            return _unsupported_media("/json/2/rpc")
        database = headers.get("X-Odoo-Database")
        if database is not None and database != self.db:
            return html_reply(404, "Not Found", "The requested URL was not found on the server.")
        try:
            self._check_bearer(headers.get("Authorization"))
            params = _json2_params(body)
            return json_reply(self._json2_call(verb, model, method_name, params))
        except OdooError as error:
            return json2_error(error)

    def _check_bearer(self, header: str | None) -> None:
        """``_auth_method_bearer``: 401 without a key or with a wrong one."""
        match = re.match(r"^bearer\s+(.+)$", header or "", re.IGNORECASE)
        if not match:
            raise http_error(401, MISSING_KEY_MSG)
        if match.group(1).strip() != self.api_key:
            raise http_error(401, "Invalid apikey")

    def _json2_call(self, verb: str, model: str, method_name: str, params: dict) -> Any:
        """Check method and arguments, then run it."""
        if verb != "POST":
            raise http_error(405, "The method is not allowed for the requested URL.")
        if model != MODEL:
            raise http_error(404, f"the model {model!r} does not exist")
        try:
            method = self._method(model, method_name)
        except OdooError as error:
            raise http_error(404, error.message) from None
        ids = params.pop("ids", ())
        context = params.pop("context", {})
        if method.model_level and ids:
            raise http_error(422, f"cannot call {model}.{method_name} with ids")
        try:
            method.signature(self.table).bind(**params)
        except TypeError as exc:
            raise http_error(422, exc.args[0]) from None
        return self.run(model, method_name, self.uid, context, ids, [], params)


def _create_answer(args: list) -> Callable[[list[int]], Any]:
    """``odoo/api.py`` ``_call_kw_model_create`` (19.0): after the insert,
    ``return result.id if isinstance(args[0], Mapping) else result.ids``. With
    ``vals_list`` passed only as a keyword, ``args[0]`` raises IndexError and
    the whole request is rolled back (ODOO_NOTES "create over /jsonrpc needs
    its values positionally"); the ids drawn stay consumed.
    """

    def shape(ids: list[int]) -> Any:
        if not args:
            raise builtin_error("IndexError", "list index out of range")
        return ids[0] if isinstance(args[0], dict) else ids

    return shape


def _unsupported_media(route_type: str) -> Reply:
    """The 415 Odoo raises when the route's dispatcher refuses the Content-Type."""
    return html_reply(
        415,
        "Unsupported Media Type",
        f"Request inferred type is compatible with ['http'] but '{route_type}' was expected by the route.",
    )


def _json2_params(body: bytes) -> dict:
    """``Json2RpcDispatcher.dispatch``: ``params |= json body`` with its errors."""
    params: dict = {}
    if not body:
        return params
    try:
        params |= json.loads(body)
    except ValueError as exc:
        raise http_error(400, f"could not parse the body as json: {exc.args[0]}") from None
    except TypeError:
        raise http_error(400, "could not parse the body, expecting a json object") from None
    return params


def _bind_call(names: tuple[str, ...], values: Any, optional: int = 0) -> list:
    """Positional (list) or named (dict) arguments -> values in ``names`` order."""
    if isinstance(values, dict):
        missing = [n for n in names[: len(names) - optional] if n not in values]
        values = [values.get(n) for n in names] if not missing else None
    else:
        values = list(values)
        if len(names) - optional <= len(values) <= len(names):
            values += [None] * (len(names) - len(values))
        else:
            values = None
    if values is None:
        raise builtin_error("TypeError", f"expected arguments {', '.join(names)}")
    return values


def _jsonrpc_method(body: bytes) -> str:
    """Method name of a JSON-RPC call: the ORM method for ``execute_kw``."""
    try:
        params = json.loads(body).get("params", {})
        if params.get("service") == "object" and params.get("method") in ("execute_kw", "execute"):
            return str(params["args"][4])
        return str(params.get("method"))
    except (ValueError, AttributeError, TypeError, IndexError, KeyError):
        return "?"


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that remembers its open connections."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, fake: FakeOdoo):
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(address, handler)

    def close_connections(self) -> None:
        """Shut every open connection down (keep-alive ones included)."""
        with self.conn_lock:
            sockets = list(self.connections)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """Reads a request, counts it, applies latency and faults, answers it."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        """Track the connection so stop() can close it; no Nagle delay."""
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.conn_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        """Untrack the connection; ignore errors on a dropped socket."""
        with contextlib.suppress(OSError):
            super().finish()
        with self.server.conn_lock:
            self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def do_GET(self) -> None:
        """GET."""
        self._serve("GET")

    def do_POST(self) -> None:
        """POST."""
        self._serve("POST")

    def do_PUT(self) -> None:
        """PUT (answered with 405 on JSON-2)."""
        self._serve("PUT")

    def _serve(self, verb: str) -> None:
        """Run one request through the fake's pipeline."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        try:
            reply = self.server.fake.process(verb, path, self.headers, body)
        except Dropped:
            reply = Reply(drop=True)
        except Exception as exc:  # a stand-in bug: answer like a crashed server
            reply = html_reply(500, "Internal Server Error", f"{type(exc).__name__}: {exc}")
        if reply.drop:
            self._drop()
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self._headers_buffer.append(b"\r\n" + reply.body)  # one write: headers + body
        self.flush_headers()

    def _drop(self) -> None:
        """Close the connection without a byte of answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


# ---------------------------------------------------------------------------
# Public face
# ---------------------------------------------------------------------------


class FakeOdoo:
    """An Odoo 19 stand-in on ``http://127.0.0.1:<port>``, for tests.

    Use as a context manager, or ``start()``/``stop()``. It stops by itself
    after ``lifetime_s`` seconds. Fault injection and latency can be changed
    while it runs; ``calls()`` counts round trips.
    """

    def __init__(
        self,
        *,
        db: str = "credits",
        login: str = "admin",
        api_key: str = "test-api-key",
        uid: int = 2,
        lifetime_s: float = 900.0,
        user_name: str = "Administrator",
        major: int = 19,
    ):
        self.app = OdooApp(db=db, login=login, api_key=api_key, uid=uid, user_name=user_name, major=major)
        self.lifetime_s = lifetime_s
        self.faults = FaultPlan()
        self.stopped = threading.Event()
        self._latency = 0.0
        self._calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._answer_gates: list[Gate] = []
        self._server: LoopbackServer | None = None
        self.url = ""

    # -- life cycle ---------------------------------------------------------------

    def start(self) -> FakeOdoo:
        """Bind 127.0.0.1 on a free port, serve in a daemon thread, arm the timer."""
        self._server = LoopbackServer(
            name="fake-odoo",
            lifetime_s=self.lifetime_s,
            server_factory=lambda address: _Server(address, _Handler, self),
            on_stop=self._on_stopped,
        )
        self.url = self._server.url
        return self

    def _on_stopped(self, server: _Server) -> None:
        self.stopped.set()  # wakes requests hanging in a "timeout" fault
        server.close_connections()

    def stop(self) -> None:
        """Stop serving and close every connection (idempotent)."""
        self.stopped.set()
        if self._server is not None:
            self._server.stop()

    @property
    def running(self) -> bool:
        """True until stop() (or the lifetime timer) ran."""
        return self._server is not None and not self.stopped.is_set()

    def __enter__(self) -> FakeOdoo:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # -- knobs --------------------------------------------------------------------

    def set_latency(self, seconds: float) -> None:
        """Delay every request by ``seconds`` before it is handled."""
        with self._lock:
            self._latency = max(0.0, float(seconds))

    def inject(
        self,
        fault: str | None,
        rate: float = 1.0,
        methods: set[str] | None = None,
        seed: int | None = None,
        *,
        times: int | None = None,
        hang_s: float = 30.0,
    ) -> None:
        """Make requests fail; ``fault=None`` clears.

        Faults: ``refused`` (connection closed before any work), ``timeout``
        (wait ``hang_s`` then close, nothing done), ``http500`` (HTML 500,
        nothing done), ``access_error`` / ``validation_error`` (Odoo error,
        nothing done), ``drop_after_commit`` (work done and committed, then
        the connection is closed without an answer). ``methods`` filters by
        ORM method (``create``, ``search_read``, ...) or ``authenticate`` /
        ``version``; ``rate`` uses an RNG seeded with ``seed``; ``times``
        limits how many requests are hit.
        """
        self.faults.set(fault, rate, methods, seed, times, hang_s)

    def hold_create(self, *, committed: bool) -> Gate:
        """Hold the next ``create``: before its rows become visible (``committed=False``: its ids are drawn,
        as Odoo draws them from a sequence before the commit), or after the commit, before its answer
        goes out (``committed=True``: a writer that has not verified yet). ``release()`` lets it go."""
        gate = Gate()
        if committed:
            with self._lock:
                self._answer_gates.append(gate)
        else:
            with self.app.table.lock:
                self.app.table.gates.append(gate)
        return gate

    def set_api_key(self, api_key: str) -> None:
        """Replace the API key (the old one is then refused: a revoked key)."""
        self.app.api_key = api_key

    def set_clock(self, now: Callable[[], dt.datetime] | None) -> None:
        """Use ``now()`` (naive UTC) for create/write dates; None = real time."""
        self.app.clock = now or (lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None))

    # -- inspection ---------------------------------------------------------------

    def calls(self) -> list[tuple[str, str]]:
        """``(protocol, method)`` per request received, in order."""
        with self._lock:
            return list(self._calls)

    def reset_calls(self) -> None:
        """Forget the recorded calls."""
        with self._lock:
            self._calls.clear()

    def rows(self, active_test: bool = True) -> list[dict]:
        """Stored crm.lead rows by id, read-formatted (archived ones on request)."""
        table = self.app.table
        with table.lock:
            ids = sorted(rid for rid, row in table.rows.items() if row["active"] or not active_test)
            env = Env(self.app.uid, {}, self.app.clock())
            return table.read(env, ids, None, load=None)

    def insert(self, vals: dict, *, create_date: str | dt.datetime | None = None) -> int:
        """Create a row directly (no HTTP, no call recorded), e.g. with an old date."""
        when = parse_datetime(create_date) or self.app.clock()
        with self.app.table.transaction():
            return self.app.table.create(Env(self.app.uid, {}, when), [vals])[0]

    # -- request pipeline (called by the handler threads) ---------------------------

    def process(self, verb: str, path: str, headers, body: bytes) -> Reply:
        """Count, delay, maybe fault, then answer one request."""
        protocol, method = OdooApp.label(path, body)
        with self._lock:
            self._calls.append((protocol, method))
            latency = self._latency
        if self.stopped.is_set():
            raise Dropped
        if latency and self.stopped.wait(latency):
            raise Dropped
        fault = self.faults.pick(method)
        if fault in ("refused", "timeout"):
            if fault == "timeout":
                self.stopped.wait(self.faults.hang_s)
            raise Dropped
        if fault == "http500":
            return html_reply(500, "Internal Server Error", "The server encountered an internal error.")
        if fault in ("access_error", "validation_error"):
            return self._fault_reply(protocol, path, body, _injected_error(fault))
        reply = self.app.handle(verb, path, headers, body)
        if fault == "drop_after_commit" or self.stopped.is_set():
            raise Dropped
        if method == "create" and reply.status == 200:
            with self._lock:
                gate = self._answer_gates.pop(0) if self._answer_gates else None
            if gate is not None:
                gate.pause()
        return reply

    def _fault_reply(self, protocol: str, path: str, body: bytes, error: OdooError) -> Reply:
        """An injected Odoo error in the request's own protocol."""
        if protocol == "json2":
            return json2_error(error)
        if protocol == "jsonrpc":
            try:
                request_id = json.loads(body).get("id")
            except (ValueError, AttributeError):
                request_id = None
            return jsonrpc_error(request_id, error, self.app.major)
        return html_reply(500, "Internal Server Error", error.message)
