"""Shared pieces of the reliability scenarios: the outcome row, test servers, ledger checks."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.servers import streamlit_server
from tests.standins.clerk_jwks import ClerkStandIn

ROOT = Path(__file__).resolve().parents[1]
ADMIN_SECRET = "reliability-admin-secret"


@dataclass
class Outcome:
    scenario: str
    tried: str
    expected: str
    observed: str
    lost: int
    ok: bool

    def as_figure(self) -> dict[str, Any]:
        return {
            "name": self.scenario,
            "value": self.lost,
            "unit": "lost",
            "baseline": None,
            "baseline_name": "",
            "ratio": None,
            "target": self.expected,
            "ok": self.ok,
            "tried": self.tried,
            "observed": self.observed,
        }


# -- helpers ------------------------------------------------------------------------------------


@contextlib.contextmanager
def _servers(tmp: Path, clerk: ClerkStandIn, count: int = 1, **env: str) -> Iterator[list[str]]:
    base = {
        "CZ_LEDGER_PATH": str(tmp / "ledger.sqlite3"),
        "CLERK_SECRET_KEY": clerk.secret_key,
        "CLERK_JWKS_URL": clerk.url,
        "CZ_REGISTRY_ADMIN_SECRET": ADMIN_SECRET,
        "CZ_STARTER_PLAN": "base",  # durability scenarios: every user starts with Base's 100 credits
        **env,
    }
    with contextlib.ExitStack() as stack:
        urls = [stack.enter_context(streamlit_server(base, log_dir=tmp / "logs")).url for _ in range(count)]
        yield urls


def _debit(client: httpx.Client, url: str, token: str, tool: str, key: str) -> tuple[int, dict[str, Any]]:
    r = client.post(
        f"{url}/api/credits-debit",
        json={"tool": tool, "idempotencyKey": key},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    return r.status_code, r.json()


def _ledger_rows(path: Path) -> list[tuple[str, str, int, int]]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT name, user_id, delta, included_delta FROM ledger").fetchall()
    finally:
        db.close()


def _consistency_problems(path: Path) -> list[str]:
    """integrity_check, balance = sum of rows per user, nothing negative."""
    db = sqlite3.connect(path)
    try:
        problems = []
        check = db.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            problems.append(f"integrity_check: {check}")
        sums = dict(
            (
                (u, (i, p))
                for u, i, p in db.execute(
                    "SELECT user_id, sum(included_delta), sum(delta - included_delta) FROM ledger GROUP BY user_id"
                )
            )
        )
        for user, inc, pur in db.execute("SELECT user_id, included, purchased FROM accounts"):
            if sums.get(user, (0, 0)) != (inc, pur):
                problems.append(f"{user}: derived {(inc, pur)} != rows {sums.get(user)}")
            if inc < 0 or pur < 0:
                problems.append(f"{user}: negative balance")
        return problems
    finally:
        db.close()


# -- scenarios ----------------------------------------------------------------------------------


