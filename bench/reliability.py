"""``python -m bench.reliability``: destructive scenarios, and what each lost (must be nothing).

Every load goes to 127.0.0.1 only and is bounded in count and time. Servers
are real `streamlit run app.py` processes (UI + /api) on one SQLite file,
Clerk is the local JWKS stand-in, Odoo the local Odoo stand-in.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.standins.clerk_jwks import ClerkStandIn

from .reliability_holds import SCENARIOS as HOLD_SCENARIOS
from .reliability_inputs import SCENARIOS as INPUT_SCENARIOS
from .reliability_ledger import SCENARIOS as LEDGER_SCENARIOS
from .reliability_odoo import replay_vs_withdrawal
from .reliability_refunds import SCENARIOS as REFUND_SCENARIOS
from .reliability_subscriptions import SCENARIOS as SUBSCRIPTION_SCENARIOS
from .reliability_support import ROOT, Outcome, _consistency_problems, _servers

__all__ = ["ROOT", "SCENARIOS", "Outcome", "_consistency_problems", "_servers", "main"]

SCENARIOS: dict[str, Callable[[Path, ClerkStandIn, bool], Outcome]] = {
    **LEDGER_SCENARIOS,
    "odoo-replays": replay_vs_withdrawal,
    **INPUT_SCENARIOS,
    **REFUND_SCENARIOS,
    **SUBSCRIPTION_SCENARIOS,
    **HOLD_SCENARIOS,
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", action="append", choices=list(SCENARIOS))
    args = parser.parse_args()
    outcomes: list[Outcome] = []
    with ClerkStandIn(lifetime_s=1800) as clerk:
        for name in args.only or SCENARIOS:
            started = time.monotonic()
            print(f"== {name} ...", flush=True)
            with tempfile.TemporaryDirectory(prefix=f"reliability-{name}-") as tmp:
                try:
                    outcome = SCENARIOS[name](Path(tmp), clerk, args.quick)
                except Exception as exc:  # report and go on with the next scenario
                    import traceback

                    traceback.print_exc()
                    outcome = Outcome(name, "-", "-", f"crashed: {type(exc).__name__}: {exc}"[:200], -1, False)
            outcomes.append(outcome)
            print(
                f"   {'ok' if outcome.ok else 'FAILED'} in {time.monotonic() - started:.0f} s: {outcome.observed}",
                flush=True,
            )
    print()
    print(_table(outcomes))
    from .report import write_results

    path = write_results("reliability", [o.as_figure() for o in outcomes])
    (path.parent / "reliability.md").write_text("# reliability\n\n" + _markdown(outcomes) + "\n")
    print(f"\nwritten: {path}")
    return 0 if all(o.ok for o in outcomes) else 1


def _table(outcomes: list[Outcome]) -> str:
    rows = [["scenario", "tried", "must", "observed", "lost", "ok"]]
    rows += [[o.scenario, o.tried, o.expected, o.observed, str(o.lost), "yes" if o.ok else "NO"] for o in outcomes]
    widths = [min(60, max(len(r[i]) for r in rows)) for i in range(6)]
    return "\n".join("  ".join(c[:w].ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def _markdown(outcomes: list[Outcome]) -> str:
    lines = ["| scenario | tried | must | observed | lost | ok |", "|---|---|---|---|---|---|"]
    lines += [
        f"| {o.scenario} | {o.tried} | {o.expected} | {o.observed} | {o.lost} | {'yes' if o.ok else 'NO'} |"
        for o in outcomes
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
