"""Ops views as pandas tables (aggregation happens in the store, not here)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from .models import LEDGER_USER, Account, Row, receipt
from .registry import Registry
from .stores.base import DailyBuckets, DailyTotal, ToolUsage


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
        if a.user_id != LEDGER_USER
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


OUTSTANDING_COLUMNS = ["day", "included", "purchased", "outstanding", "purchasedValue", "creditsIn", "creditsOut"]


def outstanding_frame(buckets: Iterable[DailyBuckets], topups: Iterable[Row]) -> pd.DataFrame:
    """Outstanding credits at the end of each UTC day with rows, by bucket; credits in / out that day.

    ``purchasedValue`` (major currency units) values the purchased credits
    outstanding at the average price paid per credit bought up to that day
    (``price`` / ``credits`` of the top-up rows): what finance carries as
    deferred revenue. Days without rows are left out.
    """
    df = pd.DataFrame(
        [b.__dict__ for b in buckets], columns=["day", "included", "purchased", "credits_in", "credits_out"]
    )
    df = df.rename(columns={"credits_in": "creditsIn", "credits_out": "creditsOut"})
    df["included"] = df["included"].cumsum()
    df["purchased"] = df["purchased"].cumsum()
    df["outstanding"] = df["included"] + df["purchased"]
    paid: dict[str, list[int]] = {}
    for r in topups:
        cell = paid.setdefault(r.created_at.strftime("%Y-%m-%d"), [0, 0])
        cell[0] += int(r.meta.get("price") or 0)
        cell[1] += int(r.meta.get("credits") or r.delta)
    money = bought = 0
    value = []
    for day, purchased in zip(df["day"], df["purchased"], strict=True):
        money, bought = money + paid.get(day, [0, 0])[0], bought + paid.get(day, [0, 0])[1]
        value.append(round(int(purchased) * money / bought / 100, 2) if bought else 0.0)
    df["purchasedValue"] = pd.Series(value, index=df.index, dtype=float)
    df["day"] = pd.to_datetime(df["day"])
    return df[OUTSTANDING_COLUMNS]


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
