"""Helper process of the interleaving tests (run as ``python -m tests.odoo.step_worker``, not collected).

    python -m tests.odoo.step_worker URL PROTOCOL AT [OPTIONS_JSON]

Opens its own OdooStore and CreditsService (enforce on, clock fixed at AT),
prints ``ready``, then runs one JSON command per stdin line
(``{"op": "debit", "args": [...]}``, ops: state, debit, refund, top_up,
adjust) and prints one JSON line per command: ``{"ok": true, "answer": …}``
or ``{"ok": false, "code": …}``.
"""

from __future__ import annotations

import inspect
import json
import sys
from datetime import datetime

from credits_core import CreditsService, FixedClock
from credits_core.errors import CreditsError
from credits_core.registry import MemoryRegistryRepository
from credits_core.stores.odoo import OdooStore
from tests.odoo.support import DB, KEY, LOGIN


def main(argv: list[str]) -> None:
    url, protocol, at, *rest = argv
    accepted = inspect.signature(OdooStore).parameters
    options = {k: v for k, v in (json.loads(rest[0]) if rest else {}).items() if k in accepted}
    store = OdooStore(url, DB, LOGIN, KEY, protocol=protocol, **options)
    service = CreditsService(
        store, MemoryRegistryRepository(), enforce=True, clock=FixedClock(datetime.fromisoformat(at))
    )
    print("ready", flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        try:
            answer = getattr(service, command["op"])(*command.get("args", []))
            out = {"ok": True, "answer": answer.to_dict()}
        except CreditsError as exc:
            out = {"ok": False, "code": exc.code, "message": exc.message}
        print(json.dumps(out), flush=True)
    store.close()


if __name__ == "__main__":
    main(sys.argv[1:])
