"""Reliability scenarios of the ledger itself: duplicate keys, racers, SIGKILL, injected Odoo faults."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from credits_core import CreditsService, FixedClock, SqliteStore
from credits_core.errors import CreditsError, LedgerUnavailable
from tests.servers import streamlit_server
from tests.standins.clerk_jwks import ClerkStandIn

from .reliability_support import Outcome, _consistency_problems, _debit, _ledger_rows, _servers


def duplicate_debits(tmp: Path, clerk: ClerkStandIn, quick: bool) -> Outcome:
    """10,000 debit requests (1,000 keys × 10) across 2 server processes on one file."""
    keys, copies = (200, 10) if quick else (1000, 10)
    users = [f"dup_user_{i}" for i in range(10)]
    tokens = {u: clerk.mint(u, exp_in=3600) for u in users}
    jobs = [(f"dup-{k}", users[k % len(users)]) for k in range(keys) for _ in range(copies)]
    random.Random(1).shuffle(jobs)
    answers: dict[str, set[str]] = defaultdict(set)
    statuses: Counter[int] = Counter()
    with _servers(tmp, clerk, count=2) as urls:
        local = threading.local()

        def send(i_job: tuple[int, tuple[str, str]]) -> None:
            i, (key, user) = i_job
            client = getattr(local, "client", None) or httpx.Client()
            local.client = client
            status, body = _debit(client, urls[i % 2], tokens[user], "ask_ai", key)
            statuses[status] += 1
            if status == 200:
                answers[key].add(repr((body["row"]["name"], body["row"]["delta"], body["balance"])))

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(send, enumerate(jobs)))
    rows = Counter(name for name, *_ in _ledger_rows(tmp / "ledger.sqlite3") if name.startswith("CZ_SMCR|debit|dup-"))
    doubled = sum(n - 1 for n in rows.values() if n > 1)
    missing = keys - len(rows)
    differing = sum(1 for a in answers.values() if len(a) != 1)
    problems = _consistency_problems(tmp / "ledger.sqlite3")
    ok = doubled == 0 and missing == 0 and differing == 0 and statuses[200] == len(jobs) and not problems
    return Outcome(
        "duplicate debits, 2 servers, 1 SQLite file",
        f"{len(jobs):,} requests, {keys:,} keys",
        "1 row per key, identical answers",
        f"{len(rows):,} rows; doubled {doubled}; answers differing {differing}; statuses {dict(statuses)}"
        + (f"; {problems[:2]}" if problems else ""),
        doubled + missing,
        ok,
    )


def racers_sqlite(tmp: Path, clerk: ClerkStandIn, quick: bool) -> Outcome:
    """50 concurrent distinct debits over a balance that covers 10 (enforce on), over HTTP."""
    ledger = tmp / "ledger.sqlite3"
    store = SqliteStore(ledger)
    service = CreditsService(store, enforce=True)
    user = "racer_sqlite"
    for i in range(90):  # the Base grant is 100: leave exactly 10 credits for 1-credit questions
        service.debit(user, "ask_ai", f"drain-{i}")
    store.close()
    token = clerk.mint(user, exp_in=3600)
    with _servers(tmp, clerk, count=2, CZ_CREDITS_ENFORCE="1") as urls, httpx.Client() as client:
        barrier = threading.Barrier(50)

        def race(i: int) -> int:
            barrier.wait()
            return _debit(client, urls[i % 2], token, "ask_ai", f"race-{i}")[0]

        with ThreadPoolExecutor(50) as pool:
            statuses = Counter(pool.map(race, range(50)))
    problems = _consistency_problems(ledger)
    balance = SqliteStore(ledger).account(user).balance.total
    ok = statuses == Counter({200: 10, 402: 40}) and balance == 0 and not problems
    return Outcome(
        "50 racers over 10 credits (SQLite, HTTP)",
        "50 concurrent debits, 2 servers",
        "10 succeed, 40 × 402, never negative",
        f"statuses {dict(statuses)}; balance {balance}",
        0 if ok else 1,
        ok,
    )


def racers_odoo(tmp: Path, clerk: ClerkStandIn, quick: bool) -> Outcome:
    """50 racers over 10 credits through two Odoo store instances on one stand-in."""
    from credits_core.stores.odoo import OdooStore
    from tests.standins.odoo import FakeOdoo

    with FakeOdoo(lifetime_s=600) as odoo:
        odoo.set_latency(0.002)
        stores = [OdooStore(odoo.url, "credits", "admin", "test-api-key", protocol=p) for p in ("jsonrpc", "json2")]
        services = [CreditsService(s, enforce=True) for s in stores]
        user = "racer_odoo"
        services[0].change_plan(user, "base")
        services[0].adjust(user, "drain", -90, "included", "leave 10 credits")
        barrier = threading.Barrier(50)
        results: Counter[str] = Counter()

        def race(i: int) -> None:
            barrier.wait()
            try:
                services[i % 2].debit(user, "ask_ai", f"odoo-race-{i}")
                results["ok"] += 1
            except CreditsError as exc:
                results[exc.code] += 1

        with ThreadPoolExecutor(50) as pool:
            list(pool.map(race, range(50)))
        active = [r for r in odoo.rows() if str(r.get("name", "")).startswith("CZ_SMCR|debit|odoo-race-")]
        balance = stores[0].account(user).balance
        total = sum(int(r["expected_revenue"]) for r in odoo.rows() if _odoo_user(r) == user)
        for s in stores:
            s.close()
    ok = results["ok"] == len(active) <= 10 and balance.total >= 0 and total >= 0 and balance.included >= 0
    return Outcome(
        "50 racers over 10 credits (Odoo stand-in)",
        "50 concurrent debits, 2 store instances",
        "≤ 10 succeed, never negative",
        f"{dict(results)}; active debit rows {len(active)}; balance {balance.total}; sum of active rows {total}",
        0 if ok else 1,
        ok,
    )


def _odoo_user(row: dict[str, Any]) -> str | None:
    from credits_core.stores import odoo as odoo_mod

    return row.get(getattr(odoo_mod, "USER_FIELD", "partner_name"))


def sigkill_during_load(tmp: Path, clerk: ClerkStandIn, quick: bool) -> Outcome:
    """Kill the server with SIGKILL at a random moment of a debit load, 20 times."""
    rounds = 5 if quick else 20
    ledger = tmp / "ledger.sqlite3"
    rng = random.Random(20)
    acked: set[str] = set()
    problems: list[str] = []
    users = [f"kill_user_{i}" for i in range(4)]
    tokens = {u: clerk.mint(u, exp_in=3600) for u in users}
    env = {"CZ_LEDGER_PATH": str(ledger), "CLERK_SECRET_KEY": clerk.secret_key, "CLERK_JWKS_URL": clerk.url}
    for round_no in range(rounds):
        with streamlit_server(env, log_dir=tmp / "logs") as server:
            stop = threading.Event()

            def load(
                worker: int, url: str = server.url, round_no: int = round_no, stop: threading.Event = stop
            ) -> None:
                user = users[worker % len(users)]
                with httpx.Client() as client:
                    n = 0
                    while not stop.is_set():
                        key = f"kill-{round_no}-{worker}-{n}"
                        n += 1
                        try:
                            status, _ = _debit(client, url, tokens[user], "ask_ai", key)
                        except (httpx.HTTPError, ValueError):
                            return
                        if status == 200:
                            acked.add(key)

            threads = [threading.Thread(target=load, args=(w,)) for w in range(6)]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.3, 1.5))
            os.killpg(server.process.pid, signal.SIGKILL)
            stop.set()
            for t in threads:
                t.join(10)
        problems += _consistency_problems(ledger)
    names = {n for n, *_ in _ledger_rows(ledger)}
    lost = sum(1 for k in acked if f"CZ_SMCR|debit|{k}" not in names)
    ok = lost == 0 and not problems and len(acked) > 0
    return Outcome(
        "SIGKILL during a debit load",
        f"{rounds} kills, {len(acked):,} acknowledged debits",
        "every acknowledged debit present; file opens; balance = sum of rows",
        f"missing {lost}; problems {problems[:2] or 'none'}",
        lost,
        ok,
    )


def odoo_faults(tmp: Path, clerk: ClerkStandIn, quick: bool) -> Outcome:
    """1,000 operations with 10% injected Odoo faults vs the same sequence fault-free."""
    from credits_core.stores.odoo import OdooStore
    from tests.standins.odoo import FakeOdoo

    n_ops = 200 if quick else 1000
    rng = random.Random(10)
    ops: list[tuple[str, ...]] = []
    for i in range(n_ops):
        user = f"fault_user_{rng.randrange(5)}"
        roll = rng.random()
        if roll < 0.8:
            ops.append(("debit", user, rng.choice(["ask_ai", "comps_report", "price_history"]), f"f-{i}"))
        elif roll < 0.9:
            ops.append(("topup", user, "pack_100", f"cs_fault_{i}"))
        else:
            ops.append(("refund", f"f-{rng.randrange(max(i, 1))}"))

    kinds = ("refused", "timeout", "http500", "drop_after_commit")

    def run(faulty: bool) -> tuple[Counter[tuple[str, int]], int]:
        with FakeOdoo(lifetime_s=600) as odoo:
            store = OdooStore(odoo.url, "credits", "admin", "test-api-key", protocol="jsonrpc", timeout_s=0.5)
            service = CreditsService(store, clock=FixedClock(datetime(2026, 11, 10, tzinfo=UTC)))
            retries = 0
            for i, op in enumerate(ops):
                if faulty and i % 50 == 0:  # 10% of requests fail, the fault kind changing every 50 operations
                    odoo.inject(kinds[(i // 50) % len(kinds)], rate=0.10, seed=i, hang_s=1.0)
                for _attempt in range(30):
                    try:
                        _apply_op(service, op)
                        break
                    except LedgerUnavailable:
                        retries += 1
                    except CreditsError:
                        break
            odoo.inject(None)
            rows = Counter((str(r["name"]), int(r["expected_revenue"])) for r in odoo.rows())
            store.close()
            return rows, retries

    clean, _ = run(False)
    faulty, retries = run(True)
    duplicates = sum(n - 1 for n in faulty.values() if n > 1)
    lost = sum((clean - faulty).values())
    extra = sum((faulty - clean).values())
    ok = duplicates == 0 and lost == 0 and extra == 0
    return Outcome(
        "10% injected Odoo faults",
        f"{n_ops:,} operations, {retries:,} retried by the caller",
        "active ledger equals the fault-free run",
        f"duplicates {duplicates}; lost {lost}; extra {extra}",
        lost + duplicates,
        ok,
    )


def _apply_op(service: CreditsService, op: tuple[str, ...]) -> None:
    if op[0] == "debit":
        service.debit(op[1], op[2], op[3])
    elif op[0] == "topup":
        service.top_up(op[1], op[2], op[3])
    else:
        service.refund(op[1], "reliability")


SCENARIOS: dict[str, Callable[[Path, ClerkStandIn, bool], Outcome]] = {
    "duplicates": duplicate_debits,
    "racers-sqlite": racers_sqlite,
    "racers-odoo": racers_odoo,
    "sigkill": sigkill_during_load,
    "odoo-faults": odoo_faults,
}
