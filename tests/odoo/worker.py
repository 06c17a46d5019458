"""Helper process of ``test_odoo_race.py`` (run as a script, not collected).

    python worker.py URL PROTOCOL AT GOFILE USER TOOL ENFORCE KEY...

Opens its own OdooStore on the stand-in at URL, waits for GOFILE to exist,
debits every KEY in order and prints one JSON line per key: the answer
(row, balance, replayed) or the error code. Prints ``ready`` first.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime

from credits_core import CreditsService, FixedClock
from credits_core.errors import CreditsError
from credits_core.registry import MemoryRegistryRepository
from credits_core.stores.odoo import OdooStore

DB, LOGIN, KEY = "credits", "admin", "test-api-key"


def main(argv: list[str]) -> None:
    url, protocol, at, gofile, user, tool, enforce, *keys = argv
    store = OdooStore(url, DB, LOGIN, KEY, protocol=protocol, timeout_s=10)
    service = CreditsService(
        store, MemoryRegistryRepository(), enforce=enforce == "1", clock=FixedClock(datetime.fromisoformat(at))
    )
    print("ready", flush=True)
    while not os.path.exists(gofile):
        time.sleep(0.001)
    for key in keys:
        started = time.monotonic()
        try:
            res = service.debit(user, tool, key)
            out = {
                "key": key,
                "ok": True,
                "row": res.row.to_dict(),
                "balance": res.balance.to_dict(),
                "replayed": res.replayed,
                "pid": os.getpid(),
            }
        except CreditsError as exc:
            out = {"key": key, "ok": False, "code": exc.code, "message": exc.message}
        out["ms"] = round(1000 * (time.monotonic() - started), 1)
        print(json.dumps(out), flush=True)
    store.close()


if __name__ == "__main__":
    main(sys.argv[1:])
