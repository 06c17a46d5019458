"""Helper process of ``test_refund_concurrency.py`` (``python -m tests.core.payments.refund_worker``).

    python -m tests.core.payments.refund_worker LEDGER STRIPE_URL GATE_DIR INDEX JOB_JSON

Reads ``{"secret_key", "webhook_secret", "payload", "signature"}`` from JOB_JSON,
verifies the webhook and settles it like the app does; before its store
transaction it writes ``GATE_DIR/ready-INDEX`` and waits for ``GATE_DIR/go``.
Prints the webhook's answer as one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from credits_core import CreditsService, FixedClock, SqliteStore
from credits_core.payments import StripeGateway
from credits_core.payments.flow import handle_webhook_event
from credits_core.registry import MemoryRegistryRepository
from tests.core.payments.support import TENANT, GatedStore
from tests.core.payments.test_refund_orders import T0


def main(ledger: str, stripe_url: str, gate_dir: str, index: str, job_path: str) -> None:
    job = json.loads(Path(job_path).read_text())
    gates = Path(gate_dir)

    def gate() -> None:
        (gates / f"ready-{index}").touch()
        deadline = time.monotonic() + 60
        while not (gates / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.002)

    store = SqliteStore(ledger)
    service = CreditsService(GatedStore(store, gate), MemoryRegistryRepository(), clock=FixedClock(T0))  # type: ignore[arg-type]
    gateway = StripeGateway(
        job["secret_key"], webhook_secret=job["webhook_secret"], api_base=stripe_url,
        public_app_url="https://app.example.test", max_network_retries=0,
    )
    event = gateway.parse_webhook(job["payload"].encode(), job["signature"])
    assert event is not None
    print(json.dumps(handle_webhook_event(service, event, tenant=TENANT, gateway=gateway)), flush=True)
    store.close()


if __name__ == "__main__":
    main(*sys.argv[1:6])
