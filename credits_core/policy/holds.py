"""Two-phase debits: hold an estimate, settle the actual cost, release the rest (pure).

Rows (all append-only, delta 0 except the settle):

* ``CZ_SMCR|hold|<key>``     kind ``hold``: meta ``held`` = credits reserved, ``expiresAt``;
* ``CZ_SMCR|settle|<key>``   kind ``debit``: the charge, meta ``held`` = −reserved (ends the hold);
* ``CZ_SMCR|release|<key>``  kind ``release``: meta ``held`` = −reserved (ends it; ``reason`` expired or released).

Rules: available = balance − active holds. A hold never takes available below
zero (enforced: 402; warn-only: it holds what is available and records the
``shortfall``). A settle charges ``units × unitPrice`` (the price locked by the
hold) but never more than this hold plus the credits available outside every
other hold; the rest is ``shortfall`` (unbilled, with a warning). An expired
hold counts as released at once, and the next transaction of its user writes
its release row (the same name in every process). Keys are permanent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from .. import keys
from ..errors import BadRequest, HoldClosed, HoldExpired, IdempotencyConflict, InsufficientCredits, NotFound
from ..models import Account, Balance, HoldAnswer, Row, stamp
from ..registry import Registry
from ..text import credits_text
from .debits import gate
from .ledger import Decision, Lookup, new_row

HOLD_SHORT = "available credits did not cover the estimate: held what was available (warn-only)"
SETTLE_SHORT = "the actual cost was above what could be charged: the rest was not billed"
MAX_UNITS = 1_000_000


def expiry_rows(acc: Account, now: datetime, at: str | None = None) -> list[Row]:
    """Release rows for every hold of ``acc`` whose time-to-live has passed (deterministic names).

    ``at``: ``stamp(now)``, when the caller has it already.
    """
    if not acc.holds:
        return []
    at = at or stamp(now)
    expired = [h for h in acc.holds if h[2] <= at]
    if not expired:
        return []
    available = max(0, acc.balance.total - acc.held_at(now))  # once all of them are released
    return [expiry_row(acc, key, amount, expires, now, available) for key, amount, expires in expired]


def expiry_row(acc: Account, key: str, amount: int, expires: str, now: datetime, available: int) -> Row:
    """The release row of an expired hold: the same content whichever transaction writes it at ``now``."""
    return new_row(
        acc,
        keys.release_name(key),
        "release",
        0,
        0,
        now,
        hold=key,
        held=-amount,
        reserved=amount,
        reason="expired",
        expiresAt=expires,
        balanceAfter=acc.balance.to_dict(),
        availableAfter=available,
    )


def _available(acc: Account) -> int:
    return max(0, acc.balance.total - acc.held)


class HoldRequest(NamedTuple):
    """What a hold asks, with everything that does not depend on the account worked out before the transaction."""

    tool_id: str
    key: str
    units: int | None  # as asked; None: the tool's estimate
    now: datetime
    expires_at: str  # stamp(now + the registry's time-to-live)


def hold_request(registry: Registry, tool_id: str, key: str, units: int | None, now: datetime) -> HoldRequest:
    """The account-free part of a hold (validated before the writer runs it)."""
    return HoldRequest(str(tool_id), key, units, now, stamp(now + timedelta(seconds=registry.hold_ttl_seconds)))


def decide_hold(
    acc: Account,
    registry: Registry,
    req: HoldRequest,
    lookup: Lookup,
    *,
    enforce: bool,
    top_up: dict[str, Any] | None = None,
) -> Decision[HoldAnswer]:
    """Reserve ``unitPrice × units`` (default: the tool's estimate) under ``req.key``, or replay it."""
    name = keys.hold_name(req.key)
    existing = lookup(name)
    if existing is not None:
        return Decision([], replay_hold(existing, acc.user_id, req.tool_id, req.units))
    tool, plan = gate(acc, registry, req.tool_id)
    units = tool.estimate_units if req.units is None else check_units(req.units)
    price = tool.unit_price
    estimate = price * units
    bal = acc.balance
    available = max(0, bal.total - acc.held)
    short = max(0, estimate - available)
    if short and enforce:
        raise InsufficientCredits(
            f"{tool.label} reserves {credits_text(estimate)} and you have {credits_text(available)} available",
            tool=tool.id,
            required=estimate,
            available=available,
            balance=bal.to_dict(),
            topUp=top_up or {},
        )
    held = estimate - short
    row = new_row(
        acc,
        name,
        "hold",
        0,
        0,
        req.now,
        tool=tool.id,
        units=units,
        unitPrice=price,
        estimate=estimate,
        held=held,
        hold=req.key,
        expiresAt=req.expires_at,
        registryVersion=registry.version,
        plan=plan.id,
        month=acc.month,
        balanceAfter=bal.to_dict(),
        availableAfter=available - held,
        shortfall=short or None,
        warning=HOLD_SHORT if short else None,
    )
    return Decision([row], HoldAnswer(row))


def replay_hold(existing: Row, user_id: str, tool_id: str, units: int | None) -> HoldAnswer:
    """The first answer, or ``idempotency_conflict`` naming the caller's own differing field."""
    if existing.user_id != user_id or existing.kind != "hold":
        raise IdempotencyConflict("this hold key was already used for another request; use a new key", field="userId")
    if existing.meta.get("tool") != tool_id:
        raise IdempotencyConflict(
            f"this hold key was already used by you for a different tool than {tool_id[:80]!r}; use a new key",
            field="tool",
        )
    if units is not None and check_units(units) != existing.meta["units"]:
        raise IdempotencyConflict(
            f"this hold key was already used by you for another number of units than {units}", field="units"
        )
    return HoldAnswer(existing, replayed=True)


class SettleRequest(NamedTuple):
    """What a settle asks, checked before the transaction (``at``: ``stamp(now)``)."""

    key: str
    units: int
    now: datetime
    at: str


def settle_request(key: str, units: object, now: datetime) -> SettleRequest:
    """The account-free part of a settle: ``units`` checked (``bad_request`` before any transaction)."""
    return SettleRequest(key, check_units(units), now, stamp(now))


def decide_settle(acc: Account, req: SettleRequest, lookup: Lookup) -> Decision[HoldAnswer]:
    """Charge the actual cost of the hold ``req.key`` and free the rest; a repeat replays the first settle."""
    key, units, now = req.key, req.units, req.now
    hold = _own_hold(acc, key, lookup)
    meta = hold.meta
    # The account's entry for this hold, if not ended: an open hold has neither a settle nor a release row
    # (either ends it), so the two lookups below are only needed once it has ended — a replay, or a settle
    # after a release or expiry.
    others = 0
    active = False
    for entry in acc.holds:
        if entry[0] == key:
            active = True
        else:
            others += entry[1]
    if not (active and meta["expiresAt"] > req.at):
        done = lookup(keys.settle_name(key))
        if done is not None:
            if done.meta["units"] != units:
                raise IdempotencyConflict(
                    f"this hold was already settled by you for another number of units than {units}", field="units"
                )
            return Decision([], HoldAnswer(done, replayed=True))
        _still_open(acc, hold, lookup, now, verb="settle")
    reserved = int(meta["held"])
    price = int(meta["unitPrice"])
    cost = price * units
    bal = acc.balance
    charged = min(cost, max(0, bal.total - others))
    from_included = min(charged, bal.included)
    after = Balance(bal.included - from_included, bal.purchased - (charged - from_included))
    short = cost - charged
    row = new_row(
        acc,
        keys.settle_name(key),
        "debit",
        -charged,
        -from_included,
        now,
        tool=meta["tool"],
        cost=charged,
        actualCost=cost,
        units=units,
        unitPrice=price,
        registryVersion=meta["registryVersion"],
        plan=meta.get("plan"),
        month=acc.month,
        hold=key,
        held=-reserved,
        reserved=reserved,
        released=max(0, reserved - charged),
        balanceAfter=after.to_dict(),
        availableAfter=max(0, after.total - others),
        shortfall=short or None,
        warning=SETTLE_SHORT if short else None,
    )
    return Decision([row], HoldAnswer(row))


def decide_release(acc: Account, key: str, reason: str, now: datetime, lookup: Lookup) -> Decision[HoldAnswer]:
    """Free the hold ``key``; a repeat (or a hold that expired) answers its release row."""
    hold = _own_hold(acc, key, lookup)
    done = lookup(keys.release_name(key))
    if done is not None:
        return Decision([], HoldAnswer(done, replayed=True))
    if lookup(keys.settle_name(key)) is not None:
        raise HoldClosed("this hold was already settled; nothing to release", status="settled")
    reserved = int(hold.meta["held"])
    if reserved and not _is_active(acc, key):  # it expired and its release row is written in this transaction
        return Decision([], HoldAnswer(expiry_row(acc, key, reserved, hold.meta["expiresAt"], now, _available(acc))))
    row = new_row(
        acc,
        keys.release_name(key),
        "release",
        0,
        0,
        now,
        tool=hold.meta["tool"],
        hold=key,
        held=-reserved,
        reserved=reserved,
        reason=reason[:200],
        balanceAfter=acc.balance.to_dict(),
        availableAfter=_available(acc) + reserved,
    )
    return Decision([row], HoldAnswer(row))


def check_units(units: object) -> int:
    if isinstance(units, bool) or not isinstance(units, int) or not 0 <= units <= MAX_UNITS:
        raise BadRequest(f"units must be an integer between 0 and {MAX_UNITS:,}", field="units")
    return units


def _own_hold(acc: Account, key: str, lookup: Lookup) -> Row:
    hold = lookup(keys.hold_name(key))
    if hold is None:
        raise NotFound(f"no hold with key {key!r}", holdKey=key)
    if hold.user_id != acc.user_id or hold.kind != "hold":
        raise IdempotencyConflict("this hold key was already used for another request; use a new key", field="userId")
    return hold


def _is_active(acc: Account, key: str) -> bool:
    return any(h[0] == key for h in acc.holds)


def _still_open(acc: Account, hold: Row, lookup: Lookup, now: datetime, *, verb: str) -> None:
    released = lookup(keys.release_name(hold.meta["hold"]))
    expired = hold.meta["expiresAt"] <= stamp(now)
    if expired or (released is not None and released.meta.get("reason") == "expired"):
        raise HoldExpired(
            f"this hold expired at {hold.meta['expiresAt']} and was released; {verb} needs a new hold",
            expiresAt=hold.meta["expiresAt"],
        )
    if released is not None:
        raise HoldClosed(f"this hold was already released; {verb} needs a new hold", status="released")
