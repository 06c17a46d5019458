"""One table for every figure: value, same-run baseline, ratio, target, verdict."""

from __future__ import annotations

import json
import platform
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
COLUMNS = ("figure", "value", "baseline", "ratio", "target", "ok")


def figure(
    name: str,
    value: float,
    unit: str,
    *,
    baseline: float | None = None,
    baseline_name: str = "",
    target: str = "",
    ok: bool | None = None,
) -> dict[str, Any]:
    """A figure dict; ``ratio`` = value / baseline when there is a baseline."""
    ratio = round(value / baseline, 3) if baseline else None
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "baseline_name": baseline_name,
        "ratio": ratio,
        "target": target,
        "ok": ok,
    }


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def rows_of(figures: Iterable[dict[str, Any]]) -> list[list[str]]:
    out = []
    for f in figures:
        base = (
            f"{_fmt(f.get('baseline'))} {f.get('unit', '')} ({f.get('baseline_name', '')})"
            if f.get("baseline")
            else "-"
        )
        ok = {True: "yes", False: "NO", None: "-"}[f.get("ok")]
        out.append(
            [f["name"], f"{_fmt(f['value'])} {f.get('unit', '')}", base, _fmt(f.get("ratio")), f.get("target", ""), ok]
        )
    return out


def markdown_table(figures: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r) + " |" for r in rows_of(figures)]
    return "\n".join(lines)


def text_table(figures: list[dict[str, Any]]) -> str:
    rows = [list(COLUMNS), *rows_of(figures)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(
        [fmt.format(*rows[0]), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows[1:]]
    )


def write_results(kind: str, figures: list[dict[str, Any]]) -> Path:
    """Write ``results/<kind>.json`` and ``results/<kind>.md``; returns the md path."""
    RESULTS.mkdir(exist_ok=True)
    meta = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "python": platform.python_version(),
    }
    (RESULTS / f"{kind}.json").write_text(json.dumps({"meta": meta, "figures": figures}, indent=2))
    md = RESULTS / f"{kind}.md"
    md.write_text(f"# {kind} ({meta['when']}, {meta['machine']})\n\n{markdown_table(figures)}\n")
    return md
