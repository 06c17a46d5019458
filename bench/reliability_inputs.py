"""Reliability scenarios of bad input and storage faults: every route, a full disk, a read-only file."""

from __future__ import annotations

import contextlib
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from credits_core import CreditsService, SqliteStore
from credits_core.errors import CreditsError, LedgerUnavailable
from tests.standins.clerk_jwks import ClerkStandIn

from .reliability_support import ADMIN_SECRET, Outcome, _consistency_problems, _ledger_rows, _servers


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
    from tests.standins.stripe import FakeStripe

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
    store = SqliteStore(path)
    service = CreditsService(store)
    service.debit("ro_user", "ask_ai", "ro-1")
    store.close()
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
    "bad-inputs": bad_inputs,
    "disk-full": disk_full,
    "read-only": read_only,
}
