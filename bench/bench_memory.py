"""Server memory: peak RSS of `streamlit run app.py` after 100,000 authenticated debits.

Baseline, same run: the same server's RSS right after start-up and one
request (imports, registry, one connection). The ratio shows what serving
100k debits added; a steady server keeps it near 1 (no per-request growth).
Load comes from wrk (C) when installed, else httpx threads, all on 127.0.0.1.

    .venv/bin/python -m bench.bench_memory [--quick]
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.report import figure, text_table
from tests.servers import streamlit_server
from tests.standins.clerk_jwks import ClerkStandIn, pem_of

_LUA = """
local n = 0
request = function()
  n = n + 1
  local body = '{"tool":"ask_ai","idempotencyKey":"m-RUN-' .. n .. '"}'
  return wrk.format("POST", "/api/credits-debit", {["Authorization"] = "Bearer TOKEN", ["Content-Type"] = "application/json"}, body)
end
"""


def _rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def _server_pid(wrapper_pid: int) -> int:
    children = subprocess.run(["pgrep", "-P", str(wrapper_pid)], capture_output=True, text=True).stdout.split()
    return int(children[0]) if children else wrapper_pid


def run(quick: bool = False) -> list[dict]:
    total = 10_000 if quick else 100_000
    with ClerkStandIn(lifetime_s=1800) as clerk, tempfile.TemporaryDirectory(prefix="bench-mem-") as tmp:
        admin = "adm_bench_" + secrets.token_hex(8)
        env = {"CZ_LEDGER_PATH": f"{tmp}/ledger.sqlite3", "CLERK_JWT_KEY": pem_of(clerk.key), "CZ_REGISTRY_ADMIN_SECRET": admin}
        with streamlit_server(env, log_dir=Path(tmp), lifetime_s=1800) as server:
            token = clerk.mint("memory_user", exp_in=7200)
            auth = {"Authorization": f"Bearer {token}"}
            plan = {"plan": "professional", "userId": "memory_user"}
            httpx.post(f"{server.url}/api/credits-plan", json=plan, headers={"x-cz-registry-admin": admin}, timeout=30)
            pid = _server_pid(server.process.pid)
            before, _ = _rss_kib(pid)
            run_id = secrets.token_hex(3)
            if shutil.which("wrk"):  # warn-only mode: every debit is a 200, covered or not
                lua = Path(tmp) / "m.lua"
                lua.write_text(_LUA.replace("RUN", run_id).replace("TOKEN", token))
                wrk = subprocess.Popen(
                    ["wrk", "-t1", "-c16", "-d900s", "-s", str(lua), server.url],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                deadline = time.monotonic() + 900
                while sqlite_count(Path(tmp) / "ledger.sqlite3") < total and time.monotonic() < deadline:
                    time.sleep(0.5)  # wrk only stops on a deadline: stop it at the count
                wrk.send_signal(signal.SIGINT)
                wrk.wait(30)
            else:

                def send(i: int, client: httpx.Client = httpx.Client()) -> None:
                    client.post(
                        f"{server.url}/api/credits-debit",
                        headers=auth,
                        timeout=30,
                        json={"tool": "ask_ai", "idempotencyKey": f"m-{run_id}-{i}"},
                    )

                with ThreadPoolExecutor(8) as pool:
                    list(pool.map(send, range(total)))
            after, peak = _rss_kib(pid)
            debits = sqlite_count(Path(tmp) / "ledger.sqlite3")
    return [
        figure(
            f"server peak RSS after {debits:,} debits",
            round(peak / 1024, 1),
            "MiB",
            baseline=round(before / 1024, 1),
            baseline_name="RSS after start-up",
            target="ratio <= 2 (no per-request growth)",
            ok=peak / before <= 2,
        ),
        figure("server RSS at the end", round(after / 1024, 1), "MiB"),
    ]


def sqlite_count(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM ledger WHERE kind='debit'").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    print(text_table(run(quick=parser.parse_args().quick)))


if __name__ == "__main__":
    main()
