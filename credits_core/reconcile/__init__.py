"""Reconciliation with Stripe: is every payment credited once, and every credit paid for?

``stripe_facts`` lists Stripe (auto-pagination, 429 back-off), ``join`` is the
pure comparison producing :class:`Drift` lines, ``run`` gathers the ledger
side and repairs through the existing exactly-once paths.
"""

from __future__ import annotations

from .join import REPAIRS, Drift, LedgerFacts, join
from .run import RepairResult, Report, reconcile, repair
from .stripe_facts import StripeFacts, StripeLister

__all__ = [
    "REPAIRS",
    "Drift",
    "LedgerFacts",
    "RepairResult",
    "Report",
    "StripeFacts",
    "StripeLister",
    "join",
    "reconcile",
    "repair",
]
