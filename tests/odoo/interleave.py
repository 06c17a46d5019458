"""Worker processes driven step by step, for tests that force an interleaving with stand-in hooks."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from tests.core.conftest import T0

ROOT = Path(__file__).resolve().parents[2]


class Worker:
    """One ``tests.odoo.step_worker`` process with its own OdooStore."""

    def __init__(self, url: str, protocol: str, **options: Any) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.odoo.step_worker", url, protocol, T0.isoformat(), json.dumps(options)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.lines.put(line.strip())
        self.lines.put("")

    def ready(self) -> Worker:
        line = self.lines.get(timeout=60)
        assert line == "ready", line or self.proc.stderr.read()  # type: ignore[union-attr]
        return self

    def send(self, op: str, *args: Any) -> None:
        """Start a command (its answer is read with ``answer``)."""
        self.proc.stdin.write(json.dumps({"op": op, "args": list(args)}) + "\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]

    def answer(self, timeout_s: float = 60) -> dict[str, Any]:
        line = self.lines.get(timeout=timeout_s)
        assert line, self.proc.stderr.read()  # type: ignore[union-attr]
        return json.loads(line)

    def answered(self) -> dict[str, Any] | None:
        try:
            line = self.lines.get_nowait()
        except queue.Empty:
            return None
        assert line, self.proc.stderr.read()  # type: ignore[union-attr]
        return json.loads(line)

    def call(self, op: str, *args: Any) -> dict[str, Any]:
        self.send(op, *args)
        return self.answer()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()  # type: ignore[union-attr]
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def workers(url: str, protocol: str, count: int, **options: Any) -> list[Worker]:
    """``count`` workers started together (imports overlap), each ready."""
    started = [Worker(url, protocol, **options) for _ in range(count)]
    return [w.ready() for w in started]
