"""Search expressions: domains (prefix notation, implicit AND) and order strings."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import builtin_error

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
