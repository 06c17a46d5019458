"""Reliability scenario: Odoo replays racing withdrawals, two OS processes (``make reliability``).

Both processes debit the same 1,000 keys in the same order through their own
OdooStore on one stand-in (enforcement on, fewer credits than keys: the
later keys race for the last credits and lose writes to withdrawals), then
replay every key once more. A key must answer one
outcome everywhere: the same row and balance, or the same error. The ledger
must hold one active row per answered key and never a negative bucket.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "odoo" / "worker.py"
AT = "2026-11-10T12:00:00+00:00"


def replay_vs_withdrawal(tmp: Path, clerk: Any, quick: bool) -> Any:
    from bench.reliability import Outcome
    from credits_core import CreditsService, FixedClock
    from credits_core.registry import MemoryRegistryRepository
    from credits_core.stores.odoo import OdooStore
    from tests.standins.odoo import FakeOdoo

    count = 200 if quick else 1000
    keys = [f"rw-{i}" for i in range(count)]
    user = "replay_user"
    with FakeOdoo(lifetime_s=2400) as odoo:  # a loaded 2-core machine took 16 min
        store = OdooStore(odoo.url, "credits", "admin", "test-api-key")
        service = CreditsService(store, MemoryRegistryRepository(), clock=FixedClock(datetime.fromisoformat(AT)))
        service.top_up(user, "pack_100", "cs_replay", credits=count // 2, price=1, currency="usd")
        first = _run(odoo.url, tmp / "go-1", user, keys)
        again = _run(odoo.url, tmp / "go-2", user, keys)
        rows = [r for r in odoo.rows() if r["partner_name"] == user]
        balance = store.account(user).balance
        store.close()
    answers: dict[str, set[str]] = {k: set() for k in keys}
    for per_process in first + again:
        for a in per_process:
            answers[a["key"]].add(_outcome(a))
    split = sum(1 for seen in answers.values() if len(seen) > 1)
    per_name = Counter(r["name"] for r in rows if r["referred"] == "debit")
    charged = {json.loads(o)["row"]["name"] for seen in answers.values() for o in seen if json.loads(o).get("row")}
    lost = sum(1 for n in charged if per_name.get(n) != 1) + sum(1 for n in per_name if n not in charged)
    firsts = [json.loads(min(seen)) for seen in answers.values() if seen]
    statuses = Counter("200" if a.get("row") else a["code"] for a in firsts)
    ok = split == 0 and lost == 0 and balance.included >= 0 and balance.purchased >= 0
    return Outcome(
        f"Odoo replay vs withdrawal, 2 processes × {count:,} keys",
        f"{count:,} keys debited by both processes, then replayed by both ({4 * count:,} answers)",
        "one outcome per key everywhere; one active row per charged key; never negative",
        f"keys with two outcomes {split}; outcomes {dict(statuses)}; doubled {sum(n - 1 for n in per_name.values() if n > 1)}; "
        f"balance {balance.total}; lost {lost}",
        lost + split,
        ok,
    )


def _run(url: str, go: Path, user: str, keys: list[str]) -> list[list[dict[str, Any]]]:
    """Both worker processes over ``keys``, released together; their answers, in order."""
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                url,
                "jsonrpc" if i == 0 else "json2",
                AT,
                str(go),
                user,
                "ask_ai",
                "1",
                *keys,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for proc in procs:
        line = proc.stdout.readline().strip()  # type: ignore[union-attr]
        if line != "ready":
            raise RuntimeError(proc.stderr.read())  # type: ignore[union-attr]
    go.touch()
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        if proc.returncode:
            raise RuntimeError(stderr[-2000:])
        out.append([json.loads(line) for line in stdout.splitlines() if line.strip()])
    return out


def _outcome(answer: dict[str, Any]) -> str:
    """What must not differ between two answers of one key (``replayed`` and timings left out)."""
    if answer["ok"]:
        return json.dumps({"row": answer["row"], "balance": answer["balance"]}, sort_keys=True)
    return json.dumps({"code": answer["code"]})
