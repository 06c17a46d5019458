"""Benchmark-only routes, mounted only when ``CZ_BENCH_ROUTES=1`` (never in production).

``POST /api/_bench/raw-insert`` does nothing but one sqlite3 INSERT + COMMIT
into a scratch table of the ledger file, with the ledger's own pragmas: the
floor an HTTP debit is compared with (``bench/bench_http.py``).
``GET /api/_bench/json`` (async, no work) and ``POST /api/_bench/async-insert``
(async: one INSERT + COMMIT at ``synchronous=FULL`` on the event loop, one
fsync per request, no threadpool hop) are the honest baselines of the async
routes. ``GET /api/_bench/server-info`` says which HTTP protocol and event
loop uvicorn is really running, and the server's RSS.
"""

from __future__ import annotations

import asyncio
import gc
import secrets
import sqlite3
import threading

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from credits_core.stores.sqlite.schema import PRAGMAS

_SCHEMA = "CREATE TABLE IF NOT EXISTS bench_raw (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, body TEXT NOT NULL)"
# About the size of a debit row's metadata.
_BODY = '{"tool":"ask_ai","cost":1,"registryVersion":1,"plan":"base","month":"2026-11",' + '"pad":"' + "x" * 150 + '"}'


def bench_router(ledger_path: str) -> APIRouter:
    """The bench routes on the SQLite file at ``ledger_path`` (one connection per thread)."""
    router = APIRouter(include_in_schema=False)
    local = threading.local()

    def conn() -> sqlite3.Connection:
        c = getattr(local, "conn", None)
        if c is None:
            c = sqlite3.connect(ledger_path, timeout=30, isolation_level=None, check_same_thread=False)
            for pragma in PRAGMAS:
                c.execute(pragma)
            c.execute(_SCHEMA)
            local.conn = c
        return c

    @router.post("/_bench/raw-insert")
    def raw_insert() -> JSONResponse:
        c = conn()
        name = secrets.token_hex(12)
        c.execute("BEGIN IMMEDIATE")
        try:
            c.execute("INSERT INTO bench_raw (name, body) VALUES (?, ?)", (name, _BODY))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return JSONResponse({"ok": True, "name": name})

    @router.get("/_bench/json")
    async def bare_json() -> JSONResponse:
        return JSONResponse({"ok": True})

    @router.post("/_bench/async-insert")
    async def async_insert() -> JSONResponse:
        return raw_insert()  # on the loop's own connection: the write holds the loop, as a bare route would

    @router.get("/_bench/server-info")
    async def server_info() -> JSONResponse:
        import uvicorn

        gc.unfreeze()  # objects frozen at start-up (front.settle_heap) are invisible to get_objects()
        try:
            servers = [o for o in gc.get_objects() if isinstance(o, uvicorn.Server)]
        finally:
            gc.freeze()
        info: dict[str, object] = {
            "loop": type(asyncio.get_running_loop()).__module__ + "." + type(asyncio.get_running_loop()).__name__,
            "rss_kib": _rss_kib(),
        }
        if servers:
            cfg = servers[0].config
            cls = getattr(cfg, "http_protocol_class", None)
            info.update(
                http_setting=str(cfg.http) if isinstance(cfg.http, str) else getattr(cfg.http, "__name__", "?"),
                loop_setting=str(cfg.loop) if isinstance(cfg.loop, str) else getattr(cfg.loop, "__name__", "?"),
                http_protocol=f"{cls.__module__}.{cls.__name__}" if cls else None,
            )
        return JSONResponse(info)

    return router


def _rss_kib() -> int | None:
    """This process's resident set size (Linux ``/proc``), in KiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None
