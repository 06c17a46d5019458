"""HTTP benchmark: authenticated debits/s and credits-state/s through ``streamlit run app.py`` vs bare routes.

The server runs with ``CZ_BENCH_ROUTES=1``, which makes ``create_api()`` also
mount the baselines (``credits_api/bench_routes.py``), measured in the same
run and printed side by side, each with p50 and p99: ``GET /api/_bench/json``
(async, no work), ``POST /api/_bench/async-insert`` (async: one INSERT +
COMMIT at synchronous=FULL on the loop, one fsync per request) and the older
``POST /api/_bench/raw-insert`` (the same write in the threadpool). The server's
RSS is read before and after the runs.

Load: ``wrk`` (Debian's C load generator, ``make bench`` installs it) with
``CONNECTIONS`` keep-alive connections on 127.0.0.1 for a fixed duration, so
the generator does not eat the 2 cores the server needs; without wrk, the
same load from httpx threads (bounded by a request count and a time cap). Each thread debits for
its own user (upgraded to Professional first, so every debit is covered)
with distinct idempotency keys. Tokens are Clerk-shaped RS256 JWTs checked
against ``CLERK_JWT_KEY`` (no network).

Protocol: ``streamlit run`` starts uvicorn through ``UvicornRunner`` with
``uvicorn.Config`` defaults for ``http`` and ``loop`` (``"auto"``), which pick
httptools and uvloop when they are installed (``uvicorn/protocols/http/auto.py``,
``uvicorn/loops/auto.py``); ``GET /api/_bench/server-info`` reports what the
running server really uses. Streamlit has no option for them, so the
comparison run uses the other supported way to serve an ``st.App``:
``uvicorn app:app --http h11 --loop asyncio``.

    .venv/bin/python -m bench.bench_http [--quick]      (or: .venv/bin/python bench/bench_http.py)
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

if __package__ in (None, ""):  # run as a file: python bench/bench_http.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import figure, text_table
from tests.servers import app_server, streamlit_server
from tests.standins.clerk_jwks import ClerkStandIn, pem_of

CONNECTIONS = int(os.environ.get("BENCH_HTTP_CONNECTIONS", "16"))
WRK = shutil.which("wrk")
_WRK_DEBIT = """
local n = 0
local tokens = {TOKENS}
request = function()
  n = n + 1
  local body = '{"tool":"ask_ai","idempotencyKey":"w-RUN-' .. n .. '"}'
  local headers = {["Authorization"] = "Bearer " .. tokens[(n % #tokens) + 1], ["Content-Type"] = "application/json"}
  return wrk.format("POST", "/api/credits-debit", headers, body)
end
"""
_WRK_STATE = """
local n = 0
local tokens = {TOKENS}
request = function()
  n = n + 1
  return wrk.format("GET", "/api/credits-state?limit=5", {["Authorization"] = "Bearer " .. tokens[(n % #tokens) + 1]})
end
"""
# Issue #17: debits >= 3,000/s, p99 <= 25 ms, >= 0.25 x the bare JSON route and >= 1.0 x the bare async
# FULL insert route of the same run; credits-state >= 5,000/s; no errors.
TARGET_RPS = 3000
TARGET_P99_MS = 25.0
TARGET_JSON_RATIO = 0.25
TARGET_INSERT_RATIO = 1.0
TARGET_STATE_RPS = 5000


BENCH_ADMIN = "adm_bench_" + secrets.token_hex(8)  # plans are applied by an admin (users only preview)


def _env(ledger: Path, clerk: ClerkStandIn) -> dict[str, str]:
    return {
        "CZ_LEDGER": "sqlite",
        "CZ_LEDGER_PATH": str(ledger),
        "CLERK_JWT_KEY": pem_of(clerk.key),
        "CZ_BENCH_ROUTES": "1",
        "CZ_REGISTRY_ADMIN_SECRET": BENCH_ADMIN,
    }


def _uvicorn_server(env: dict[str, str], log_dir: Path, http: str, loop: str):
    """``uvicorn app:app`` with an explicit protocol and loop (the other supported way to serve st.App)."""
    uvicorn = Path(sys.executable).with_name("uvicorn")

    def command(port: int) -> list[str]:
        return [
            str(uvicorn),
            "app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--http",
            http,
            "--loop",
            loop,
            "--no-access-log",
        ]

    return app_server(command, env, log_dir=log_dir, name=f"uvicorn-{http}", lifetime_s=600)


def _load_wrk(url: str, script: str, duration_s: float, workdir: Path) -> dict[str, float]:
    """Run wrk for ``duration_s`` with ``script`` (Lua) and parse its summary."""
    lua = workdir / f"wrk-{secrets.token_hex(3)}.lua"
    lua.write_text(script)
    cmd = [WRK, "-t1", f"-c{CONNECTIONS}", f"-d{max(1, int(duration_s))}s", "--latency", "-s", str(lua), url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 60).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": _wrk_ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),
        "p99_ms": _wrk_ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),
        "requests": requests,
        "errors": (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, errors.groups())) if errors else 0),
    }


def _wrk_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _load(
    url: str, make_request: Callable[[httpx.Client, int, int], httpx.Response], total: int, cap_s: float
) -> dict[str, float]:
    """``total`` requests over CONNECTIONS keep-alive connections (or until ``cap_s``)."""
    latencies: list[list[float]] = [[] for _ in range(CONNECTIONS)]
    errors = [0] * CONNECTIONS
    counter = iter(range(total))
    lock = threading.Lock()
    stop_at = time.monotonic() + cap_s

    def worker(slot: int) -> None:
        with httpx.Client(base_url=url, timeout=30, limits=httpx.Limits(max_connections=1)) as client:
            while time.monotonic() < stop_at:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                t0 = time.perf_counter()
                r = make_request(client, slot, n)
                latencies[slot].append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors[slot] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CONNECTIONS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    lat = sorted(x for per in latencies for x in per)
    if not lat:
        raise RuntimeError("no request completed")
    return {
        "rps": len(lat) / elapsed,
        "p50_ms": statistics.median(lat) * 1000,
        "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
        "requests": len(lat),
        "errors": sum(errors),
    }


def _measure(server_url: str, clerk_key: Any, clerk: ClerkStandIn, total: int, cap_s: float) -> dict[str, Any]:
    info = httpx.get(server_url + "/api/_bench/server-info", timeout=30).json()
    users = [f"bench_{secrets.token_hex(4)}_{i}" for i in range(CONNECTIONS)]
    headers = [{"Authorization": f"Bearer {clerk.mint(u, key=clerk_key, exp_in=3600)}"} for u in users]
    run_id = secrets.token_hex(4)
    with httpx.Client(base_url=server_url, timeout=30) as c:
        for u in users:  # 1,500 included credits each: every debit below is covered
            body = {"plan": "professional", "userId": u}
            r = c.post("/api/credits-plan", json=body, headers={"x-cz-registry-admin": BENCH_ADMIN})
            r.raise_for_status()
        for i in range(50):  # warm-up: threadpool, connections, caches
            c.post("/api/_bench/raw-insert")
            c.post(
                "/api/credits-debit",
                json={"tool": "ask_ai", "idempotencyKey": f"warm-{run_id}-{i}"},
                headers=headers[i % CONNECTIONS],
            )
            c.post("/api/_bench/async-insert")
            c.get("/api/_bench/json")
            c.get("/api/credits-state?limit=5", headers=headers[i % CONNECTIONS])

    if WRK:
        tokens = "{" + ", ".join('"' + h["Authorization"].removeprefix("Bearer ") + '"' for h in headers) + "}"
        scripts = {
            "json": 'wrk.method = "GET"\nwrk.path = "/api/_bench/json"\n',
            "async_insert": 'wrk.method = "POST"\nwrk.path = "/api/_bench/async-insert"\n',
            "raw": 'wrk.method = "POST"\nwrk.path = "/api/_bench/raw-insert"\n',
            "debit": _WRK_DEBIT.replace("{TOKENS}", tokens).replace("RUN", run_id),
            "state": _WRK_STATE.replace("{TOKENS}", tokens),
        }
        workdir = Path(tempfile.mkdtemp(prefix="wrk-"))
        # Baselines and the measured routes alternate in one run, each for cap_s / 4.
        out: dict[str, Any] = {"info": info, "generator": "wrk"}
        for name, lua in scripts.items():
            out[name] = _load_wrk(server_url, lua, cap_s / 4, workdir)
        out["rss_after_kib"] = httpx.get(server_url + "/api/_bench/server-info", timeout=30).json().get("rss_kib")
        return out

    def debit(client: httpx.Client, slot: int, n: int) -> httpx.Response:
        body = {"tool": "ask_ai", "idempotencyKey": f"b-{run_id}-{n}"}
        return client.post("/api/credits-debit", json=body, headers=headers[slot % len(headers)])

    def raw(client: httpx.Client, slot: int, n: int) -> httpx.Response:
        return client.post("/api/_bench/raw-insert")

    def json_route(client: httpx.Client, slot: int, n: int) -> httpx.Response:
        return client.get("/api/_bench/json")

    def async_insert(client: httpx.Client, slot: int, n: int) -> httpx.Response:
        return client.post("/api/_bench/async-insert")

    def state(client: httpx.Client, slot: int, n: int) -> httpx.Response:
        return client.get("/api/credits-state?limit=5", headers=headers[n % len(headers)])

    out = {"info": info, "generator": "httpx threads"}
    for name, fn in (("json", json_route), ("async_insert", async_insert), ("raw", raw), ("debit", debit), ("state", state)):
        out[name] = _load(server_url, fn, total, cap_s / 2)
    out["rss_after_kib"] = httpx.get(server_url + "/api/_bench/server-info", timeout=30).json().get("rss_kib")
    return out


def _figures(main: dict[str, Any], label: str) -> list[dict]:
    """Issue #17's table: every route of the same run side by side, p50/p99 each, RSS before/after."""
    d, j, a, r, st = (main[k] for k in ("debit", "json", "async_insert", "raw", "state"))
    rps = lambda x: round(x["rps"], 1)  # noqa: E731
    ok_debit = (
        d["rps"] >= TARGET_RPS
        and d["p99_ms"] <= TARGET_P99_MS
        and d["rps"] >= TARGET_JSON_RATIO * j["rps"]
        and d["rps"] >= TARGET_INSERT_RATIO * a["rps"]
        and d["errors"] == 0
    )
    conns = f"{CONNECTIONS} conns, {main['generator']}"
    out = [
        figure(f"HTTP bare JSON route/s (async, no work; {label}, {conns})", rps(j), "req/s"),
        figure("HTTP bare async insert+commit/s (synchronous=FULL, on the loop)", rps(a), "req/s"),
        figure(
            f"HTTP debits/s, streamlit run ({label}, {conns})",
            rps(d),
            "req/s",
            baseline=rps(a),
            baseline_name="bare async FULL insert route",
            target=f">= {TARGET_RPS} req/s, p99 <= {TARGET_P99_MS:g} ms, ratio >= {TARGET_INSERT_RATIO}, "
            f">= {TARGET_JSON_RATIO} x bare JSON, 0 errors",
            ok=ok_debit,
        ),
        figure("HTTP debits/s vs bare JSON route", rps(d), "req/s", baseline=rps(j), baseline_name="bare JSON route"),
        figure(
            "HTTP debits/s vs threadpool raw-insert route", rps(d), "req/s", baseline=rps(r), baseline_name="bare raw-insert route (sync, threadpool)"
        ),
        figure(
            "HTTP credits-state/s (limit=5, 16 users round-robin)",
            rps(st),
            "req/s",
            baseline=rps(j),
            baseline_name="bare JSON route",
            target=f">= {TARGET_STATE_RPS} req/s, 0 errors",
            ok=st["rps"] >= TARGET_STATE_RPS and st["errors"] == 0,
        ),
    ]
    for name, x in (("debit", d), ("credits-state", st), ("bare JSON", j), ("bare async insert", a), ("raw-insert (threadpool)", r)):
        out.append(figure(f"HTTP {name} p50", round(x["p50_ms"], 2), "ms"))
        target = {"target": f"<= {TARGET_P99_MS:g} ms", "ok": x["p99_ms"] <= TARGET_P99_MS} if x is d else {}
        out.append(figure(f"HTTP {name} p99", round(x["p99_ms"], 2), "ms", **target))
    out.append(figure("HTTP debit errors", d["errors"], "", target="0", ok=d["errors"] == 0))
    out.append(figure("HTTP credits-state errors", st["errors"], "", target="0", ok=st["errors"] == 0))
    before, after = main["info"].get("rss_kib"), main.get("rss_after_kib")
    if before and after:
        out.append(
            figure("server RSS after the HTTP runs", round(after / 1024, 1), "MiB", baseline=round(before / 1024, 1), baseline_name="RSS before")
        )
    return out


def _label(info: dict[str, Any]) -> str:
    http = "httptools" if "httptools" in str(info.get("http_protocol")) else "h11"
    loop = "uvloop" if "uvloop" in str(info.get("loop")) else "asyncio"
    return f"{http}+{loop}"


def run(quick: bool = False) -> list[dict]:
    """Start the app, load it, and return the figures (see module docstring)."""
    total, cap_s = (600, 8.0) if quick else (3000, 20.0)
    figures: list[dict] = []
    with ClerkStandIn(lifetime_s=900) as clerk, tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        key = clerk.key
        tmpdir = Path(tmp)
        with streamlit_server(_env(tmpdir / "ledger.sqlite3", clerk), log_dir=tmpdir) as server:
            main = _measure(server.url, key, clerk, total, cap_s)
        label = _label(main["info"])
        figures += _figures(main, label)
        if not quick:
            with _uvicorn_server(_env(tmpdir / "ledger-h11.sqlite3", clerk), tmpdir, "h11", "asyncio") as alt:
                other = _measure(alt.url, key, clerk, total, cap_s)
            d, r = main["debit"], main["raw"]
            od, orr = other["debit"], other["raw"]
            olabel = _label(other["info"])
            figures += [
                figure(
                    f"HTTP debits/s, uvicorn ({olabel})",
                    round(od["rps"], 1),
                    "req/s",
                    baseline=round(d["rps"], 1),
                    baseline_name=f"streamlit run ({label})",
                ),
                figure(
                    f"HTTP raw-insert/s, uvicorn ({olabel})",
                    round(orr["rps"], 1),
                    "req/s",
                    baseline=round(r["rps"], 1),
                    baseline_name=f"streamlit run ({label})",
                ),
                figure(f"HTTP debit p50, uvicorn ({olabel})", round(od["p50_ms"], 2), "ms"),
            ]
    return figures


def main() -> None:
    """Print the figures as a table."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_http")
    parser.add_argument("--quick", action="store_true", help="600 requests / 8 s per measurement, no h11 run")
    args = parser.parse_args()
    print(text_table(run(quick=args.quick)))


if __name__ == "__main__":
    main()
