"""``python -m credits_core`` / ``credits``: the service from a terminal.

Exit codes: 0 ok, 1 a credits error (code and message on stderr), 2 bad usage,
3 a check failed (``verify`` found tampering, ``reconcile`` found drift it did not repair).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from . import open_service
from .errors import CreditsError
from .models import KINDS
from .stores.base import RowFilter


def main(argv: Sequence[str] | None = None) -> int:
    """Run one CLI command; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        service = open_service()
        if args.command == "seed-demo":
            service.enforce = True
            if args.if_empty and service.has_history():
                print("ledger already has history; skipping seed")
                return 0
            from .seed import seed_demo

            # The history ends at --end, or at the start of the current UTC hour, so
            # that the same --seed writes the same rows (SystemClock "now" never repeats).
            end = _date(args.end) or service.now().replace(minute=0, second=0, microsecond=0)
            with service.bulk_writes():
                report = seed_demo(service, users=args.users, months=args.months, seed=args.seed, end=end)
            print(f"seeded {report.users} users over {report.months} months: {report.operations} operations")
        elif args.command == "state":
            _print(service.state(args.user, tail=args.tail).to_dict())
        elif args.command == "debit":
            _print(service.debit(args.user, args.tool, args.key).to_dict())
        elif args.command == "refund":
            _print(service.refund(args.key, args.reason).to_dict())
        elif args.command == "plan":
            _print(service.change_plan(args.user, args.plan, dry_run=args.dry_run).to_dict())
        elif args.command == "topup":
            _print(service.top_up(args.user, args.pack, args.reference).to_dict())
        elif args.command == "hold":
            _print(service.hold(args.user, args.tool, args.key, args.units).to_dict())
        elif args.command == "settle":
            _print(service.settle(args.user, args.key, args.units).to_dict())
        elif args.command == "release":
            _print(service.release(args.user, args.key).to_dict())
        elif args.command == "tail":
            _print([r.to_dict() for r in service.ledger_tail(args.user, args.limit)])
        elif args.command == "export" and args.chain:
            return _export_chain(service, args)
        elif args.command == "export":
            _export(service, args)
        elif args.command == "verify":
            return _verify(service, args.file)
        elif args.command == "reconcile":
            from .reconcile.cli import run_reconcile

            return run_reconcile(service, args)
        return 0
    except CreditsError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1


def _export(service, args) -> None:
    where = RowFilter(
        user_id=args.user,
        kinds=tuple(args.kind or ()),
        since=_date(args.since),
        until=_date(args.until),
    )
    rows = service.export_rows(where)
    target = open(args.output, "w", newline="") if args.output != "-" else contextlib.nullcontext(sys.stdout)  # noqa: SIM115
    with target as out:
        writer = csv.writer(out)
        writer.writerow(
            ["createdAt", "name", "userId", "kind", "bucket", "delta", "includedDelta", "purchasedDelta", "meta"]
        )
        for r in rows:
            d = r.to_dict()
            writer.writerow(
                [
                    d["createdAt"],
                    r.name,
                    r.user_id,
                    r.kind,
                    r.bucket,
                    r.delta,
                    r.included_delta,
                    r.purchased_delta,
                    json.dumps(r.meta, sort_keys=True),
                ]
            )
    if args.output != "-":
        print(f"wrote {len(rows)} rows to {args.output}", file=sys.stderr)


def _export_chain(service, args) -> int:
    if args.user or args.kind or args.since or args.until or args.output != "-":
        print("error: --chain exports the whole ledger; it takes no filters and no --output", file=sys.stderr)
        return 2
    from .export import export_chain

    try:
        out = open(args.chain, "wb")  # noqa: SIM115 - closed below, also when the export fails
    except OSError as exc:
        print(f"error: cannot write {args.chain}: {exc.strerror}", file=sys.stderr)
        return 2
    with out:
        head = export_chain(service, out)
    print(f"wrote {head.rows:,} rows to {args.chain}; head {head.head}; checkpoint {head.checkpoint}", file=sys.stderr)
    return 0


def _verify(service, path: str) -> int:
    from .export import verify_file

    try:
        verdict = verify_file(service, path)
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    if verdict.ok:
        print(f"OK: {verdict.rows:,} rows; head {verdict.head} matches {verdict.checkpoint}")
        return 0
    print(f"FAILED: {verdict.kind}: {verdict.message}")
    if verdict.checkpoint:
        held = (
            f"head {verdict.checkpoint_head} over {verdict.checkpoint_rows:,} rows"
            if verdict.checkpoint_rows is not None
            else "nothing (not in this ledger)"
        )
        print(f"checkpoint {verdict.checkpoint} holds {held}")
    return 3


def _date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        print(f"error: bad date {text!r}: use YYYY-MM-DD", file=sys.stderr)
        raise SystemExit(2) from None  # bad usage, like argparse


def _print(obj: object) -> None:
    print(json.dumps(obj, indent=2, default=str))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="credits", description="Secondary Market credits ledger")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("seed-demo", help="write deterministic synthetic history")
    s.add_argument("--users", type=int, default=40)
    s.add_argument("--months", type=int, default=4)
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--end", help="UTC date/time the history ends (default: the start of this hour)")
    s.add_argument("--if-empty", action="store_true", help="do nothing when the ledger has history")
    s = sub.add_parser("state", help="balance, plan and ledger tail of a user")
    s.add_argument("user")
    s.add_argument("--tail", type=int, default=20)
    s = sub.add_parser("debit", help="charge a tool once per idempotency key")
    s.add_argument("user")
    s.add_argument("tool")
    s.add_argument("key")
    s = sub.add_parser("refund", help="refund a debit once")
    s.add_argument("key")
    s.add_argument("--reason", default="refunded from the CLI")
    s = sub.add_parser("plan", help="change plan")
    s.add_argument("user")
    s.add_argument("plan")
    s.add_argument("--dry-run", action="store_true")
    s = sub.add_parser("topup", help="credit a pack once per reference")
    s.add_argument("user")
    s.add_argument("pack")
    s.add_argument("reference")
    s = sub.add_parser("hold", help="reserve a tool's estimate under a permanent key")
    s.add_argument("user")
    s.add_argument("tool")
    s.add_argument("key")
    s.add_argument("--units", type=int)
    s = sub.add_parser("settle", help="charge the units used by a hold and free the rest (prints the receipt)")
    s.add_argument("user")
    s.add_argument("key")
    s.add_argument("units", type=int)
    s = sub.add_parser("release", help="free a hold")
    s.add_argument("user")
    s.add_argument("key")
    s = sub.add_parser("tail", help="last rows of a user")
    s.add_argument("user")
    s.add_argument("--limit", type=int, default=20)
    s = sub.add_parser("export", help="rows as CSV, or the whole ledger as a hash chain (--chain FILE)")
    s.add_argument("--output", "-o", default="-")
    s.add_argument("--chain", metavar="FILE", help="tamper-evident JSON Lines export + a checkpoint row in the ledger")
    s.add_argument("--user")
    s.add_argument("--kind", action="append", choices=KINDS)
    s.add_argument("--since")
    s.add_argument("--until")
    s = sub.add_parser("verify", help="check a chained export: OK, or the first row edited, moved, removed or added")
    s.add_argument("file")
    s = sub.add_parser("reconcile", help="compare Stripe with the ledger (paid/credited/refunded/plans)")
    s.add_argument("--since", help="UTC date the window starts (inclusive)")
    s.add_argument("--until", help="UTC date the window ends (exclusive)")
    s.add_argument("--repair", action="store_true", help="apply the missing changes through the fulfilment paths")
    s.add_argument("--json", action="store_true", help="print the report as JSON")
    return p
