"""Answers computed from the ledger: replay under a candidate price list, runway (pure)."""

from .outcome import Outcome, ReplayReport, UserReplay
from .replay import last_full_month, replay
from .runway import Runway, estimate, usage_of

__all__ = ["Outcome", "ReplayReport", "Runway", "UserReplay", "estimate", "last_full_month", "replay", "usage_of"]
