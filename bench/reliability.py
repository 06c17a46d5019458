"""``python -m bench.reliability``: destructive scenarios, and what each lost (must be nothing).

Every load goes to 127.0.0.1 only and is bounded in count and time. Servers
are real `streamlit run app.py` processes (UI + /api) on one SQLite file,
Clerk is the local JWKS stand-in, Odoo the local Odoo stand-in.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from credits_core import CreditsService, FixedClock, SqliteStore
from credits_core.errors import CreditsError, LedgerUnavailable
from tests.servers import streamlit_server
from tests.standins.clerk_jwks import ClerkStandIn

from .reliability_refunds import SCENARIOS as REFUND_SCENARIOS
from .reliability_subscriptions import SCENARIOS as SUBSCRIPTION_SCENARIOS

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
    service = CreditsService(SqliteStore(ledger), enforce=True)
    user = "racer_sqlite"
    for i in range(90):  # the Base grant is 100: leave exactly 10 credits for 1-credit questions
        service.debit(user, "ask_ai", f"drain-{i}")
    service.store.close()
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
    from tests.standins.odoo_server import FakeOdoo

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
    from tests.standins.odoo_server import FakeOdoo

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


def bad_inputs(tmp: Path, clerk: ClerkStandIn, quick: bool) -> Outcome:
    """Forged tokens, oversized bodies, wrong types, odd keys, bad registries → only 4xx, nothing written."""
    ledger = tmp / "ledger.sqlite3"
    good = clerk.mint("bad_input_user", exp_in=3600)
    forged = [
        clerk.forge_alg_none(),
        clerk.forge_hs256_with_public_pem(),
        clerk.forge_other_key(),
        clerk.forge_tampered(),
        clerk.mint("x", exp_in=-600),
        "garbage",
        "",
    ]
    cases: list[tuple[str, str, dict[str, Any]]] = []
    for token in forged:
        header = {"Authorization": f"Bearer {token}".strip()}
        for route in ("credits-debit", "credits-plan", "credits-checkout"):
            cases.append(("POST", f"/api/{route}", {"headers": header, "json": {}}))
        cases.append(("GET", "/api/credits-state", {"headers": header}))
    auth = {"Authorization": f"Bearer {good}"}
    bodies: list[Any] = [
        {"tool": 5, "idempotencyKey": "k1"},
        {"tool": "ask_ai", "idempotencyKey": 12},
        {"tool": "ask_ai", "idempotencyKey": "ключ-unicode"},
        {"tool": "ask_ai", "idempotencyKey": "a" * 201},
        {"tool": "ask_ai", "idempotencyKey": ""},
        {"tool": "ask_ai", "idempotencyKey": "has space"},
        {"tool": "ask_ai", "idempotencyKey": "pipe|key"},
        {"tool": "nope", "idempotencyKey": "k2"},
        {"tool": ["ask_ai"], "idempotencyKey": "k3"},
        [],
        "text",
        None,
        {"tool": "ask_ai"},
        {"tool": "ask_ai", "idempotencyKey": "k4", "extra": {"deep": [1] * 10}},
    ]
    cases += [("POST", "/api/credits-debit", {"headers": auth, "json": b}) for b in bodies]
    cases.append(
        (
            "POST",
            "/api/credits-debit",
            {"headers": {**auth, "content-type": "application/json"}, "content": b"{not json"},
        )
    )
    cases.append(
        (
            "POST",
            "/api/credits-debit",
            {
                "headers": {**auth, "content-type": "application/json"},
                "content": b'{"tool":"ask_ai","idempotencyKey":"big","pad":"' + b"x" * 2_000_000 + b'"}',
            },
        )
    )
    cases += [
        ("POST", "/api/credits-plan", {"headers": auth, "json": b})
        for b in ({"plan": "platinum"}, {"plan": 3}, {"plan": "base", "dryRun": "maybe"}, {})
    ]
    cases += [("POST", "/api/credits-checkout", {"headers": auth, "json": {"pack": "nope"}})]
    cases += [("GET", f"/api/credits-state?limit={v}", {"headers": auth}) for v in ("-1", "abc", "100000", "1e9")]
    admin = {"x-cz-registry-admin": ADMIN_SECRET}
    regs: list[Any] = [
        {"tenant": "cityzeen", "plans": [], "tools": [{"id": "ask_ai", "label": "A", "credits": -5}], "packs": []},
        {"patch": {"tools": [{"id": "ask_ai", "credits": -1}]}},
        {"patch": {"plans": [{"id": "base", "remove": True}]}},
        {"patch": {"packs": [{"id": "pack_new", "label": "P", "credits": 10}]}},
        "nonsense",
        [1, 2],
    ]
    cases += [("POST", "/api/action-registry-admin", {"headers": admin, "json": r}) for r in regs]
    cases += [("POST", "/api/action-registry-admin", {"headers": {"x-cz-registry-admin": "wrong"}, "json": {}})]
    cases += [("POST", "/api/credits-refund", {"headers": admin, "json": {"idempotencyKey": "never-charged"}})]
    cases += [("POST", "/api/stripe-webhook", {"headers": {"Stripe-Signature": "t=1,v1=00"}, "content": b"{}"})]
    statuses: Counter[int] = Counter()
    bad: list[str] = []
    from tests.standins.stripe_server import FakeStripe

    stripe = FakeStripe(lifetime_s=600).start()
    stripe_env = {
        "STRIPE_SECRET_KEY": stripe.secret_key,
        "STRIPE_WEBHOOK_SECRET": stripe.webhook_secret,
        "STRIPE_API_BASE": stripe.url,
    }
    with contextlib.ExitStack() as cleanup, _servers(tmp, clerk, **stripe_env) as (url,), httpx.Client() as client:
        cleanup.callback(stripe.stop)
        before = len(_ledger_rows(ledger)) if ledger.exists() else 0
        registry_before = client.get(f"{url}/api/action-registry").json().get("version")
        for method, path, kw in cases:
            r = client.request(method, url + path, timeout=30, **kw)
            statuses[r.status_code] += 1
            body = r.text
            if not 400 <= r.status_code < 500 or "Traceback" in body or '"error"' not in body:
                bad.append(f"{method} {path} → {r.status_code} {body[:120]!r}")
        registry_after = client.get(f"{url}/api/action-registry").json().get("version")
    after = len(_ledger_rows(ledger)) if ledger.exists() else 0
    written = after - before
    ok = not bad and written == 0 and registry_before == registry_after
    return Outcome(
        "bad inputs to every route",
        f"{len(cases)} requests",
        "only 4xx with an error body, nothing written",
        f"statuses {dict(sorted(statuses.items()))}; rows written {written}; registry v{registry_before}→v{registry_after}"
        + (f"; unexpected: {bad[:2]}" if bad else ""),
        written + len(bad),
        ok,
    )


def disk_full(tmp: Path, clerk: ClerkStandIn, quick: bool) -> Outcome:
    """A ledger on a tiny filesystem: debits until the disk is full → clear error, nothing half-written."""
    mount = tmp / "tinyfs"
    mount.mkdir()
    mounted = (
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)], capture_output=True).returncode
        == 0
    )
    try:
        store = SqliteStore(mount / "ledger.sqlite3")
        if not mounted:  # no mount rights: cap the file through SQLite instead
            store._conn().execute("PRAGMA max_page_count=40")
        service = CreditsService(store)
        service.top_up("full_user", "pack_2000", "cs_full")
        acked, error = 0, None
        for i in range(20_000):
            try:
                service.debit("full_user", "ask_ai", f"full-{i}")
                acked += 1
            except LedgerUnavailable as exc:
                error = exc.message
                break
        rows_written = store.account("full_user").rows
        store.close()
        reopened = SqliteStore(mount / "ledger.sqlite3")
        debits = sum(1 for r in reopened.rows() if r.kind == "debit")
        reopened.close()
        problems = _consistency_problems(mount / "ledger.sqlite3")
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)
    ok = error is not None and "full" in error and debits == acked and not problems
    return Outcome(
        "disk full under the ledger",
        f"debits until full ({'tmpfs 512 KiB' if mounted else 'max_page_count'})",
        "clear error, every acknowledged debit kept, no partial row",
        f"{acked} acknowledged, {debits} in ledger, {rows_written} rows; error: {error!r}; problems {problems[:1] or 'none'}",
        abs(acked - debits),
        ok,
    )


def read_only(tmp: Path, clerk: ClerkStandIn, quick: bool) -> Outcome:
    """The ledger file becomes immutable (chattr +i): writes fail clearly, reads still work."""
    path = tmp / "ro" / "ledger.sqlite3"
    service = CreditsService(SqliteStore(path))
    service.debit("ro_user", "ask_ai", "ro-1")
    service.store.close()
    for extra in ("-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)
    locked = subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0
    error, balance = None, None
    try:
        if not locked:
            path.chmod(0o444)
        store = SqliteStore(path)
        service = CreditsService(store)
        balance = store.account("ro_user").balance.total
        try:
            service.debit("ro_user", "ask_ai", "ro-2")
        except CreditsError as exc:
            error = f"{exc.code}: {exc.message}"
        store.close()
    except CreditsError as exc:  # refusing to open is also a clear answer
        error = f"{exc.code}: {exc.message}"
    finally:
        if locked:
            subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    names = {n for n, *_ in _ledger_rows(path)}
    ok = error is not None and "CZ_SMCR|debit|ro-2" not in names and "CZ_SMCR|debit|ro-1" in names
    return Outcome(
        "read-only ledger file",
        "a debit on an immutable file" + ("" if locked else " (chmod only)"),
        "clear error, nothing written",
        f"error: {error!r}; balance still readable: {balance}",
        0 if ok else 1,
        ok,
    )


SCENARIOS: dict[str, Callable[[Path, ClerkStandIn, bool], Outcome]] = {
    "duplicates": duplicate_debits,
    "racers-sqlite": racers_sqlite,
    "racers-odoo": racers_odoo,
    "sigkill": sigkill_during_load,
    "odoo-faults": odoo_faults,
    "bad-inputs": bad_inputs,
    "disk-full": disk_full,
    "read-only": read_only,
    **REFUND_SCENARIOS,
    **SUBSCRIPTION_SCENARIOS,
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", action="append", choices=list(SCENARIOS))
    args = parser.parse_args()
    outcomes: list[Outcome] = []
    with ClerkStandIn(lifetime_s=1800) as clerk:
        for name in args.only or SCENARIOS:
            started = time.monotonic()
            print(f"== {name} ...", flush=True)
            with tempfile.TemporaryDirectory(prefix=f"reliability-{name}-") as tmp:
                try:
                    outcome = SCENARIOS[name](Path(tmp), clerk, args.quick)
                except Exception as exc:  # report and go on with the next scenario
                    import traceback

                    traceback.print_exc()
                    outcome = Outcome(name, "-", "-", f"crashed: {type(exc).__name__}: {exc}"[:200], -1, False)
            outcomes.append(outcome)
            print(
                f"   {'ok' if outcome.ok else 'FAILED'} in {time.monotonic() - started:.0f} s: {outcome.observed}",
                flush=True,
            )
    print()
    print(_table(outcomes))
    from .report import write_results

    path = write_results("reliability", [o.as_figure() for o in outcomes])
    (path.parent / "reliability.md").write_text("# reliability\n\n" + _markdown(outcomes) + "\n")
    print(f"\nwritten: {path}")
    return 0 if all(o.ok for o in outcomes) else 1


def _table(outcomes: list[Outcome]) -> str:
    rows = [["scenario", "tried", "must", "observed", "lost", "ok"]]
    rows += [[o.scenario, o.tried, o.expected, o.observed, str(o.lost), "yes" if o.ok else "NO"] for o in outcomes]
    widths = [min(60, max(len(r[i]) for r in rows)) for i in range(6)]
    return "\n".join("  ".join(c[:w].ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def _markdown(outcomes: list[Outcome]) -> str:
    lines = ["| scenario | tried | must | observed | lost | ok |", "|---|---|---|---|---|---|"]
    lines += [
        f"| {o.scenario} | {o.tried} | {o.expected} | {o.observed} | {o.lost} | {'yes' if o.ok else 'NO'} |"
        for o in outcomes
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
