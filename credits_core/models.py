"""Typed values the engine passes around: ledger rows, balances, answers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

KINDS = ("grant", "upgrade", "trim", "debit", "refund", "topup", "adjust", "plan", "hold", "release", "checkpoint")
# The ledger's own rows (export checkpoints) belong to this user id, never a person.
LEDGER_USER = "_ledger"
ROW_PREFIX = "CZ_SMCR|"


def stamp(at: datetime) -> str:
    """Fixed-width UTC text of an instant (text order is time order): hold expiries."""
    # isoformat then "Z": the text of strftime("%Y-%m-%dT%H:%M:%S.%fZ"), in a third less time.
    utc = at if at.tzinfo is UTC else at.astimezone(UTC)
    return utc.isoformat(timespec="microseconds")[:-6] + "Z"


@dataclass(frozen=True)
class Balance:
    """Credits by bucket; ``total`` is always ``included + purchased``."""

    included: int = 0
    purchased: int = 0

    @property
    def total(self) -> int:
        return self.included + self.purchased

    def to_dict(self) -> dict[str, int]:
        return {"total": self.total, "included": self.included, "purchased": self.purchased}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Balance:
        return cls(included=int(data["included"]), purchased=int(data["purchased"]))


@dataclass(frozen=True)
class Row:
    """One append-only ledger row.

    ``delta`` is the signed change; ``included_delta`` is the part of it that
    hits the included bucket, the rest (``purchased_delta``) the purchased one.
    """

    name: str
    user_id: str
    kind: str
    delta: int
    included_delta: int
    created_at: datetime
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def purchased_delta(self) -> int:
        return self.delta - self.included_delta

    @property
    def bucket(self) -> str:
        """``included``, ``purchased``, or ``mixed`` when a debit spans both."""
        if self.included_delta and self.purchased_delta:
            return "mixed"
        if self.purchased_delta or self.kind == "topup":
            return "purchased"
        return "included"

    def to_dict(self) -> dict[str, Any]:
        """JSON shape used by the API and the CSV export (a charge also carries its ``receipt``)."""
        out = {
            "name": self.name,
            "userId": self.user_id,
            "kind": self.kind,
            "delta": self.delta,
            "bucket": self.bucket,
            "includedDelta": self.included_delta,
            "purchasedDelta": self.purchased_delta,
            "createdAt": self.created_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "meta": self.meta,
        }
        if self.kind == "debit" and "balanceAfter" in self.meta:
            out["receipt"] = receipt(self)
        return out


@dataclass(frozen=True)
class Account:
    """The derived per-user state a store keeps beside the rows.

    Everything here can be recomputed from the user's rows
    (:func:`credits_core.policy.account.derive_account`); stores keep it so
    that reading a balance never scans history.
    """

    user_id: str
    balance: Balance = Balance()
    plan: str | None = None
    month: str | None = None  # last calendar month (YYYY-MM) the grant ran for
    month_peak: int = 0  # highest monthlyIncluded held in `month`
    month_granted: int = 0  # grant + upgrade credits written in `month`
    trim_seq: int = 0  # trim rows written in `month`
    rows: int = 0
    # Active holds, oldest first: (key, credits held, expiresAt ISO). Ended by a settle or release row.
    holds: tuple[tuple[str, int, str], ...] = ()

    @property
    def held(self) -> int:
        """Credits reserved by every hold not yet ended by a row (expired ones included)."""
        return sum(amount for _key, amount, _exp in self.holds)

    def active_holds(self, now: datetime) -> tuple[tuple[str, int, str], ...]:
        """Holds not ended and not expired at ``now`` (an expired hold counts as released)."""
        at = stamp(now)
        return tuple(h for h in self.holds if h[2] > at)

    def held_at(self, now: datetime) -> int:
        return sum(amount for _key, amount, _exp in self.active_holds(now))

    def available(self, now: datetime) -> int:
        """``balance − active holds`` (never shown below zero)."""
        return max(0, self.balance.total - self.held_at(now))

    def with_rows(self, rows: list[Row]) -> Account:
        """This account after ``rows`` are appended (pure)."""
        acc = self
        for row in rows:
            acc = _apply(acc, row)
        return acc


def _apply(acc: Account, row: Row) -> Account:
    """Fold one row into the derived state (the single definition of it)."""
    meta = row.meta
    bal = Balance(acc.balance.included + row.included_delta, acc.balance.purchased + row.purchased_delta)
    kind = row.kind
    if kind == "grant" and meta.get("month") != acc.month:
        return replace(
            acc,
            balance=bal,
            rows=acc.rows + 1,
            month=meta["month"],
            month_peak=int(meta.get("peak", 0)),
            month_granted=row.delta,
            trim_seq=0,
        )
    if kind == "plan":
        peak = max(acc.month_peak, int(meta.get("peak", 0)))
        return replace(acc, balance=bal, rows=acc.rows + 1, plan=meta["plan"], month_peak=peak)
    if kind == "upgrade":
        peak = max(acc.month_peak, int(meta.get("peak", 0)))
        return replace(
            acc, balance=bal, rows=acc.rows + 1, month_peak=peak, month_granted=acc.month_granted + row.delta
        )
    if kind == "trim":
        return replace(acc, balance=bal, rows=acc.rows + 1, trim_seq=acc.trim_seq + 1)
    holds = acc.holds
    held = meta.get("held")
    if held is not None:  # a hold row (+), or the settle / release row that ends it (−)
        key, held = meta["hold"], int(held)
        holds = (*holds, (key, held, meta["expiresAt"])) if held > 0 else tuple(h for h in holds if h[0] != key)
    # Every other row changes only the balance, the row count and the holds: built directly (replace() is slow).
    return Account(
        acc.user_id, bal, acc.plan, acc.month, acc.month_peak, acc.month_granted, acc.trim_seq, acc.rows + 1, holds
    )


@dataclass(frozen=True)
class DebitResult:
    """Answer to a debit; ``replayed`` when the key was seen before."""

    row: Row
    balance: Balance
    replayed: bool = False
    warning: str | None = None
    refund: Row | None = None  # on a replay: the refund of this debit, when there was one

    def to_dict(self) -> dict[str, Any]:
        out = {"row": self.row.to_dict(), "balance": self.balance.to_dict(), "replayed": self.replayed}
        if self.warning:
            out["warning"] = self.warning
        if self.refund is not None:
            out["refund"] = self.refund.to_dict()
        return out


@dataclass(frozen=True)
class RefundResult:
    row: Row
    balance: Balance
    replayed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row.to_dict(), "balance": self.balance.to_dict(), "replayed": self.replayed}


@dataclass(frozen=True)
class TopUpResult:
    row: Row
    balance: Balance
    replayed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row.to_dict(), "balance": self.balance.to_dict(), "replayed": self.replayed}


@dataclass(frozen=True)
class PlanChange:
    """Result (or dry-run preview) of a plan change."""

    previous_plan: str
    plan: str
    granted: int
    trimmed: int
    balance: Balance
    soft_cap: int
    monthly_included: int
    dry_run: bool = False
    rows: tuple[Row, ...] = ()
    replayed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "previousPlan": self.previous_plan,
            "plan": self.plan,
            "granted": self.granted,
            "trimmed": self.trimmed,
            "balance": self.balance.to_dict(),
            "softCap": self.soft_cap,
            "monthlyIncluded": self.monthly_included,
            "dryRun": self.dry_run,
            "replayed": self.replayed,
            "rows": [r.to_dict() for r in self.rows],
        }


@dataclass(frozen=True)
class CreditsState:
    """What ``GET /api/credits-state`` answers."""

    user_id: str
    plan: str
    balance: Balance
    monthly_included: int
    soft_cap: int
    enforce: bool
    month: str
    ledger_tail: tuple[Row, ...] = ()
    registry_version: int = 0
    available: int | None = None  # balance − active holds (None: same as the total)
    holds: tuple[tuple[str, int, str], ...] = ()  # active holds: (key, credits held, expiresAt)

    def to_dict(self) -> dict[str, Any]:
        return {
            "userId": self.user_id,
            "plan": self.plan,
            "balance": self.balance.to_dict(),
            "monthlyIncluded": self.monthly_included,
            "softCap": self.soft_cap,
            "enforce": self.enforce,
            "month": self.month,
            "registryVersion": self.registry_version,
            "available": self.balance.total if self.available is None else self.available,
            "held": sum(h[1] for h in self.holds),
            "holds": [{"holdKey": k, "held": n, "expiresAt": e} for k, n, e in self.holds],
            "ledgerTail": [r.to_dict() for r in self.ledger_tail],
        }


def as_plain(obj: Any) -> Any:
    """Dataclass → plain dict (for debugging and tests)."""
    return asdict(obj)


@dataclass(frozen=True)
class HoldAnswer:
    """Answer to a hold, settle or release, rebuilt from its row alone (so a replay is the first answer)."""

    row: Row
    replayed: bool = False

    @property
    def balance(self) -> Balance:
        return Balance.from_dict(self.row.meta["balanceAfter"])

    @property
    def available(self) -> int:
        return int(self.row.meta["availableAfter"])

    @property
    def warning(self) -> str | None:
        return self.row.meta.get("warning")

    def to_dict(self) -> dict[str, Any]:
        meta = self.row.meta
        out: dict[str, Any] = {
            "holdKey": meta["hold"],
            "status": {"hold": "held", "debit": "settled", "release": "released"}[self.row.kind],
            "row": self.row.to_dict(),
            "balance": self.balance.to_dict(),
            "available": self.available,
            "replayed": self.replayed,
        }
        if self.row.kind == "hold":
            out["held"] = int(meta["held"])
            out["expiresAt"] = meta["expiresAt"]
        if self.row.kind == "debit":
            out["receipt"] = receipt(self.row)
        if self.warning:
            out["warning"] = self.warning
        return out


def receipt(row: Row) -> dict[str, Any] | None:
    """What a charge row says it charged: registry version, unit price × units, buckets, balance before/after, hold."""
    meta = row.meta
    if row.kind != "debit" or "balanceAfter" not in meta:
        return None
    after = Balance.from_dict(meta["balanceAfter"])
    before = Balance(after.included - row.included_delta, after.purchased - row.purchased_delta)
    out: dict[str, Any] = {
        "registryVersion": meta.get("registryVersion"),
        "unitPrice": meta.get("unitPrice", meta.get("cost")),
        "units": meta.get("units", 1),
        "charged": -row.delta,
        "included": -row.included_delta,
        "purchased": -row.purchased_delta,
        "balanceBefore": before.to_dict(),
        "balanceAfter": after.to_dict(),
    }
    if "hold" in meta:
        out.update(hold=meta["hold"], reserved=meta["reserved"], released=meta["released"])
    if meta.get("shortfall"):
        out["shortfall"] = meta["shortfall"]
    return out
