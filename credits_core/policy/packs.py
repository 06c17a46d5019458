"""The cheapest mix of top-up packs covering a shortfall (pure; used by pricing and replay).

An unbounded covering knapsack solved exactly by dynamic programming over
credits in units of the packs' gcd. Money is in minor units (cents).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Above this many pack "units" the shortfall is first bulk-filled with the
# best-value pack, then solved exactly (keeps a what-if edit responsive).
_MAX_DP_UNITS = 50_000


@dataclass(frozen=True)
class PackOption:
    """A top-up pack: credits for a price (minor units)."""

    id: str
    label: str
    credits: int
    price: int
    currency: str = "usd"


@dataclass(frozen=True)
class PackPurchase:
    """How many of each pack to buy; ``credits`` and ``price`` are the totals."""

    counts: tuple[tuple[str, int], ...] = ()
    credits: int = 0
    price: int = 0

    @property
    def packs_bought(self) -> int:
        """Number of packs in the purchase."""
        return sum(n for _, n in self.counts)

    def describe(self, labels: Mapping[str, str] | None = None) -> str:
        """``2 × 500 credits + 1 × 100 credits`` (or ``—``)."""
        if not self.counts:
            return "—"
        labels = labels or {}
        return " + ".join(f"{n} × {labels.get(pid, pid)}" for pid, n in self.counts)


def cheapest_packs(shortfall: int, packs: Sequence[PackOption]) -> PackPurchase:
    """The cheapest multiset of packs with at least ``shortfall`` credits.

    Ties go to fewer credits bought, then fewer packs. Exact (dynamic
    programming over credits in units of the packs' gcd); for very large
    shortfalls the bulk is first covered with the best credits-per-price pack.
    Raises ``ValueError`` when credits are needed but no pack is usable.
    """
    if shortfall <= 0:
        return PackPurchase()
    usable = [p for p in packs if p.credits > 0 and p.price >= 0]
    if not usable:
        raise ValueError("no top-up pack can cover the shortfall")
    unit = math.gcd(*(p.credits for p in usable))
    need = -(-shortfall // unit)
    sizes = [p.credits // unit for p in usable]
    bulk: dict[int, int] = {}
    if need > _MAX_DP_UNITS:
        best = min(range(len(usable)), key=lambda i: (usable[i].price / usable[i].credits, -usable[i].credits))
        n = (need - _MAX_DP_UNITS) // sizes[best] + 1
        bulk[best] = n
        need = max(0, need - n * sizes[best])
    counts = _dp_cover(need, sizes, [p.price for p in usable])
    for i, n in bulk.items():
        counts[i] += n
    chosen = tuple((usable[i].id, n) for i, n in sorted(enumerate(counts), key=lambda kv: -usable[kv[0]].credits) if n)
    return PackPurchase(
        counts=chosen,
        credits=sum(usable[i].credits * n for i, n in enumerate(counts)),
        price=sum(usable[i].price * n for i, n in enumerate(counts)),
    )


def _dp_cover(need: int, sizes: Sequence[int], prices: Sequence[int]) -> list[int]:
    """Counts per item of the cheapest cover of ``need`` units (cost, overshoot, packs)."""
    inf = (math.inf, math.inf, math.inf)
    best: list[tuple[float, float, float]] = [inf] * (need + 1)
    choice = [-1] * (need + 1)
    best[0] = (0, 0, 0)
    for x in range(1, need + 1):
        for i, size in enumerate(sizes):
            prev = best[max(0, x - size)]
            over = max(0, size - x) + prev[1]
            cand = (prev[0] + prices[i], over, prev[2] + 1)
            if cand < best[x]:
                best[x], choice[x] = cand, i
    counts = [0] * len(sizes)
    x = need
    while x > 0:
        i = choice[x]
        counts[i] += 1
        x = max(0, x - sizes[i])
    return counts
