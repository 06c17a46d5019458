"""Ops views as pandas tables (aggregation happens in the store, not here)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from .models import Account, Row, receipt
from .registry import Registry
from .stores.base import DailyTotal, ToolUsage


def daily_totals_frame(totals: Iterable[DailyTotal]) -> pd.DataFrame:
    """``day, kind, credits, rows`` with ``day`` as a datetime."""
    df = pd.DataFrame([t.__dict__ for t in totals], columns=["day", "kind", "credits", "rows"])
    df["day"] = pd.to_datetime(df["day"])
    return df


def top_tools_frame(usage: Iterable[ToolUsage], registry: Registry) -> pd.DataFrame:
    labels = {t.id: t.label for t in registry.tools}
    df = pd.DataFrame([u.__dict__ for u in usage], columns=["tool", "credits", "uses"])
    df.insert(1, "label", df["tool"].map(lambda t: labels.get(t, t)))
    return df


def balances_frame(accounts: Iterable[Account], registry: Registry) -> pd.DataFrame:
    records = [
        {
            "userId": a.user_id,
            "plan": a.plan or registry.default_plan,
            "included": a.balance.included,
            "purchased": a.balance.purchased,
            "total": a.balance.total,
        }
        for a in accounts
    ]
    return pd.DataFrame(records, columns=["userId", "plan", "included", "purchased", "total"])


def rows_frame(rows: Iterable[Row]) -> pd.DataFrame:
    records = [
        {
            "createdAt": r.created_at,
            "userId": r.user_id,
            "kind": r.kind,
            "delta": r.delta,
            "bucket": r.bucket,
            "tool": r.meta.get("tool", ""),
            "name": r.name,
            "receipt": receipt_text(r),
        }
        for r in rows
    ]
    return pd.DataFrame(records, columns=["createdAt", "userId", "kind", "delta", "bucket", "tool", "name", "receipt"])


def receipt_text(row: Row) -> str:
    """A charge's receipt on one line: ``v3 · 5 × 1 cr · included 5 / purchased 0 · 400 → 395 · hold h1 (8 held, 3 released)``."""
    r = receipt(row)
    if r is None:
        return ""
    text = (
        f"v{r['registryVersion']} · {r['units']} × {r['unitPrice']} cr · included {r['included']} / purchased {r['purchased']}"
        f" · {r['balanceBefore']['total']} → {r['balanceAfter']['total']}"
    )
    if "hold" in r:
        text += f" · hold {r['hold']} ({r['reserved']} held, {r['released']} released)"
    return text + (f" · short {r['shortfall']}" if r.get("shortfall") else "")
