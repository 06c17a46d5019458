"""Form-encoded parameters: bracket notation decoded as Stripe does, and typed values.

stripe-python's encoder (``stripe/_encode.py``) sends nested keys in bracket
notation (``line_items[0][price_data][product_data][name]=...``, ``expand[]=a``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .errors import ApiError, missing_param


def nest(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Turn bracket-notation form pairs into nested dicts/lists (Stripe's decoding)."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        parts = [head] + (re.findall(r"([^\[\]]*)\]", "[" + rest) if rest else [])
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "":  # ``expand[]=a`` appends
                if not isinstance(node, list):
                    break
                node.append(value if last else {})
                node = node[-1]
                continue
            nxt_is_list = not last and parts[i + 1] == ""
            if isinstance(node, list):
                break
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, [] if nxt_is_list else {})
    return _listify(root)


def _listify(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _listify(v) for k, v in node.items()}
        if out and all(k.isdigit() for k in out):
            return [out[k] for k in sorted(out, key=int)]
        return out
    if isinstance(node, list):
        return [_listify(v) for v in node]
    return node


def as_int(value: Any, param: str, *, minimum: int | None = None) -> int:
    if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value):
        raise ApiError(400, f"Invalid integer: {value}", param=param)
    n = int(value)
    if minimum is not None and n < minimum:
        raise ApiError(400, f"This value must be greater than or equal to {minimum}.", param=param)
    return n


def parse_recurring(value: Any, param: str) -> dict[str, Any]:
    """``price_data[recurring]``: ``interval`` day/week/month/year, ``interval_count`` ≥ 1."""
    if not isinstance(value, dict):
        raise ApiError(400, "Invalid object", param=param)
    interval = value.get("interval")
    if not interval:
        raise missing_param(f"{param}[interval]")
    if interval not in ("day", "week", "month", "year"):
        raise ApiError(400, "Invalid interval: must be one of day, week, month, or year", param=f"{param}[interval]")
    count = as_int(value.get("interval_count", "1"), f"{param}[interval_count]", minimum=1)
    return {"interval": interval, "interval_count": count, "meter": None, "usage_type": "licensed"}
