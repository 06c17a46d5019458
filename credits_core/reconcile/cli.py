"""``credits reconcile [--since DATE] [--until DATE] [--repair] [--json]``: the CLI's caller of ``run``."""

from __future__ import annotations

import json
import sys
from typing import Any

from ..config import load_settings
from ..errors import PaymentsDisabled
from ..payments.stripe_gateway import StripeGateway
from ..service import CreditsService
from .run import reconcile, repair


def run_reconcile(service: CreditsService, args: Any) -> int:
    """Print the drift (and the repairs); 0 when nothing is left to do, 3 when drift remains."""
    from ..cli import _date

    settings = load_settings()
    gateway = StripeGateway.from_settings(settings)
    if gateway is None:
        raise PaymentsDisabled("Reconciliation needs STRIPE_SECRET_KEY (payments are not configured).")
    since, until = _date(args.since), _date(args.until)
    report = reconcile(service, gateway, tenant=settings.tenant, since=since, until=until, progress=_progress)
    left = list(report.drift)
    if args.repair and report.drift:
        results = repair(service, gateway, report, tenant=settings.tenant)
        left = [r.drift for r in results if r.action in ("skipped", "failed")]
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 3 if left else 0
    c = report.checked
    print(
        f"checked {c['sessions']:,} checkout sessions ({c['paidSessions']:,} paid), {c['refunds']:,} refunds, "
        f"{c['subscriptions']:,} subscriptions, {c['invoices']:,} invoices, {c['ledgerTopUps']:,} ledger top-ups"
    )
    if not report.drift:
        print("no drift: every payment is credited once and every credit is paid for")
        return 0
    print(f"{len(report.drift)} drift line(s):")
    for d in report.drift:
        print(
            f"  {d.code:<22} {d.stripe_id}  row {d.row or '-'}  user {d.user_id}  {d.detail}"
            f"  [repair: {d.repair or 'manual'}]"
        )
    for r in report.repairs:
        print(f"  repaired {r.drift.code:<22} {r.drift.stripe_id}: {r.action}  {r.row or ''}  {r.message}")
    return 3 if left else 0


def _progress(fraction: float, text: str) -> None:
    if sys.stderr.isatty():
        print(
            f"\r[{'#' * int(fraction * 30):<30}] {text[:60]:<60}",
            end="" if fraction < 1 else "\n",
            file=sys.stderr,
            flush=True,
        )
