"""Start `streamlit run app.py` for tests: a free port on 127.0.0.1, a clean env, always stopped.

Used by the HTTP API tests, the browser tests and the benchmarks. The server
gets its own process group and a hard lifetime, so nothing outlives a run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
STREAMLIT = Path(sys.executable).with_name("streamlit")

# Variables of SPEC §8 that must never leak from the developer's shell into a test server.
_CONFIG_VARS = (
    "CZ_",
    "ODOO_",
    "CLERK_",
    "STRIPE_",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class StreamlitServer:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextlib.contextmanager
def streamlit_server(
    env: Mapping[str, str], *, log_dir: Path, lifetime_s: int = 900, startup_timeout_s: float = 60
) -> Iterator[StreamlitServer]:
    """Run ``streamlit run app.py`` with ``env`` (on top of a scrubbed environment) until the block ends."""

    def command(port: int) -> list[str]:
        return [
            str(STREAMLIT),
            "run",
            str(ROOT / "app.py"),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ]

    with app_server(
        command, env, log_dir=log_dir, name="streamlit", lifetime_s=lifetime_s, startup_timeout_s=startup_timeout_s
    ) as server:
        yield server


@contextlib.contextmanager
def app_server(
    command: Callable[[int], list[str]],
    env: Mapping[str, str],
    *,
    log_dir: Path,
    name: str,
    lifetime_s: int = 900,
    startup_timeout_s: float = 60,
) -> Iterator[StreamlitServer]:
    """Run ``command(port)`` (any way of serving app.py) on a free loopback port; always stopped.

    The process gets its own group and a hard lifetime (``timeout -s KILL``),
    and the block starts once ``/_stcore/health`` answers.
    """
    port = free_port()
    # CZ_CLOCK passes through: the fixed-clock CI runs freeze servers' ledger clocks too.
    clean = {k: v for k, v in os.environ.items() if not k.startswith(_CONFIG_VARS) or k == "CZ_CLOCK"}
    clean.update(env)
    clean.setdefault("CZ_PUBLIC_APP_URL", f"http://127.0.0.1:{port}")
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}-{port}.log"
    cmd = ["timeout", "-s", "KILL", str(lifetime_s), *command(port)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=clean, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = StreamlitServer(f"http://127.0.0.1:{port}", proc, log_path)
    try:
        _wait_ready(server, startup_timeout_s)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _wait_ready(server: StreamlitServer, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.process.returncode}:\n{server.log()[-3000:]}")
        try:
            if httpx.get(server.url + "/_stcore/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"streamlit did not become healthy in {timeout_s}s:\n{server.log()[-3000:]}")
