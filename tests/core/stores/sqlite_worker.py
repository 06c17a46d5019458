"""Helper process of ``test_sqlite_concurrency.py`` (run as a script, not collected).

    python sqlite_worker.py race   PATH AT GOFILE USER TOOL THREADS KEY...
    python sqlite_worker.py stream PATH AT USER TOOL

``race``: one thread per KEY (the same key may repeat) waits for GOFILE to
exist, then debits; after all threads end, one JSON line per thread is
printed. It prints ``ready`` once its threads are waiting.
``stream``: debits ``stream-0``, ``stream-1``, … forever and prints each key
(flushed) only after the debit is committed; the parent kills it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from datetime import datetime

from credits_core import CreditsService, FixedClock, SqliteStore
from credits_core.errors import CreditsError


def race(path: str, at: datetime, gofile: str, user: str, tool: str, keys: list[str]) -> None:
    service = CreditsService(SqliteStore(path), enforce=True, clock=FixedClock(at))
    results: list[dict] = [{} for _ in keys]

    def run(i: int, key: str) -> None:
        while not os.path.exists(gofile):
            time.sleep(0.001)
        try:
            res = service.debit(user, tool, key)
            results[i] = {
                "key": key,
                "ok": True,
                "replayed": res.replayed,
                "row": res.row.name,
                "balance": res.balance.to_dict(),
            }
        except CreditsError as exc:
            results[i] = {"key": key, "ok": False, "code": exc.code}
        except BaseException as exc:
            results[i] = {"key": key, "ok": False, "code": f"unexpected {type(exc).__name__}: {exc}"}

    threads = [threading.Thread(target=run, args=(i, k)) for i, k in enumerate(keys)]
    for t in threads:
        t.start()
    print("ready", flush=True)
    for t in threads:
        t.join()
    for r in results:
        print(json.dumps(r), flush=True)


def stream(path: str, at: datetime, user: str, tool: str) -> None:
    service = CreditsService(SqliteStore(path), enforce=True, clock=FixedClock(at))
    i = 0
    while True:
        key = f"stream-{i}"
        service.debit(user, tool, key)
        sys.stdout.write(key + "\n")
        sys.stdout.flush()
        i += 1


def main(argv: list[str]) -> None:
    mode, path, at = argv[0], argv[1], datetime.fromisoformat(argv[2])
    if mode == "race":
        race(path, at, argv[3], argv[4], argv[5], argv[6:])
    elif mode == "stream":
        stream(path, at, argv[3], argv[4])
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
