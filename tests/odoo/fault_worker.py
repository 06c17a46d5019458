"""Helper process of ``test_odoo_faults.py`` (run as a script, not collected).

    python -m tests.odoo.fault_worker PROTOCOL SEED COUNT

Starts its own Odoo stand-in, runs the operation sequence ``operations(SEED,
COUNT)`` through an OdooStore with 10 % of requests failing (refused, timeout,
HTTP 500, answer lost after commit; client retries on ``ledger_unavailable``)
and prints one JSON object: the answers, the active ledger, the row count per
name and whether any error message leaked Odoo's debug text or the key.
"""

from __future__ import annotations

import json
import sys
from collections import Counter

from tests.odoo.fault_ops import ledger_of, operations, run
from tests.odoo.support import open_store, start_fake


def main(protocol: str, seed: int, count: int) -> None:
    fake = start_fake()
    try:
        store = open_store(fake, protocol, timeout_s=0.06, retries=3)
        answers, leaks = run(store, operations(seed, count), inject=fake.inject, hang_s=0.1)
        fake.inject(None)
        store.close()
        store = open_store(fake, protocol)  # the final reads need no fault-sized timeout on a busy machine
        out = {
            "answers": answers,
            "ledger": ledger_of(store.rows()),
            "per_name": max(Counter(r["name"] for r in fake.rows()).values()),
            "leaks": leaks,
            "calls": len(fake.calls()),
        }
        store.close()
    finally:
        fake.stop()
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
