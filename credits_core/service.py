"""The credits service: composes registry, policy and a store.

Speaks in the product's nouns — ``state``, ``debit``, ``refund``,
``change_plan``, ``top_up``, ``ledger_tail`` — and the HTTP routes, the CLI
and the pages map onto these one to one. Every mutation is one store
transaction that first applies any pending monthly grants (rule 1) and then
the operation, so a failed operation writes nothing at all.
"""

from __future__ import annotations

import asyncio
import functools
import operator
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from . import keys
from .clock import Clock, SystemClock, month_of
from .errors import BadRequest, NotFound, UnknownPack
from .models import Account, CreditsState, DebitResult, PlanChange, RefundResult, Row, TopUpResult, stamp
from .policy import (
    ChargeState,
    Settlement,
    adjust_rows,
    decide_debit,
    plan_change_rows,
    refund_rows,
    replay_debit,
    rollover_rows,
    settle_topup_rows,
)
from .policy.grants import current_plan
from .policy.holds import expiry_rows
from .policy.reversals import reversal_name, reversal_rows
from .registry import MemoryRegistryRepository, Pack, Registry, RegistryRepository
from .registry import editing as registry_editing
from .service_holds import HoldVerbs
from .service_reads import LedgerReads
from .stores.base import Decision, LedgerStore, Lookup

T = TypeVar("T")
MAX_TAIL = 500
MAX_CREDITS = 1_000_000_000  # one row never moves more; far below SQLite's 2**63 integers


class CreditsService(HoldVerbs, LedgerReads):
    """One tenant's credits over one store (see module docstring)."""

    def __init__(
        self,
        store: LedgerStore,
        registry: RegistryRepository | None = None,
        *,
        enforce: bool = False,
        clock: Clock | None = None,
        account_url: str = "/account#credits",
        starter_plan: str | None = None,
    ) -> None:
        self.store = store
        self.registries = registry or MemoryRegistryRepository()
        self.enforce = enforce
        self.clock = clock or SystemClock()
        self.account_url = account_url
        # The plan of a user with no plan row: the registry's default (DEMO: base) unless set;
        # server mode sets NO_PLAN, since plans are paid subscriptions there.
        self.starter_plan = starter_plan
        self._views: tuple[Registry, Registry] | None = None
        self._top_up_paths: tuple[Registry, dict[str, Any]] | None = None  # a 402's topUp, per registry version

    # -- reads -------------------------------------------------------------
    @property
    def registry(self) -> Registry:
        """The current registry version (with this service's starter plan as default)."""
        current = self.registries.current()
        if self.starter_plan is None:
            return current
        views = self._views
        if views is None or views[0] is not current:
            views = self._views = (current, current.with_default_plan(self.starter_plan))
        return views[1]

    def now(self) -> datetime:
        return self.clock.now()

    def state(self, user_id: str, *, tail: int = 20, read_only: bool = False) -> CreditsState:
        """Balance, plan, caps and the last ``tail`` rows; applies a due monthly grant.

        ``read_only`` (a support read of another user) shows the same figures
        but writes nothing: the due grant is computed, not recorded.
        """
        keys.check_user(user_id)
        reg, now = self.registry, self.now()
        acc, month = self.store.account(user_id), month_of(now)
        if acc.month != month or len(acc.active_holds(now)) != len(acc.holds):
            if read_only:
                acc = acc.with_rows(rollover_rows(acc, reg, now))
            else:  # a due grant, or expired holds to release (written lazily, here or by the next write)
                acc = self.store.transact(user_id, self._rolled(lambda a, _lookup: Decision([], a)))
        rows = self.store.tail(user_id, _clamp(tail)) if tail else []
        return self._state_of(user_id, acc, rows, reg, month, now)

    async def state_async(self, user_id: str, *, tail: int = 20) -> CreditsState:
        """``state`` for the event loop: cached local reads (``snapshot``) on the loop, writes async.

        Stores without ``snapshot`` (Odoo: network reads) run ``state`` in a worker thread.
        """
        snapshot = getattr(self.store, "snapshot", None)
        if snapshot is None:
            call = functools.partial(self.state, user_id, tail=tail)
            return await asyncio.get_running_loop().run_in_executor(None, call)
        keys.check_user(user_id)
        limit = _clamp(tail) if tail else 0
        reg, now = self.registry, self.now()
        acc, rows = snapshot(user_id, limit)
        month = month_of(now)
        if acc.month != month or len(acc.active_holds(now)) != len(acc.holds):  # a due grant, or expired holds
            await self._transact_async(user_id, self._rolled(lambda a, _lookup: Decision([], a), reg, now))
            acc, rows = snapshot(user_id, limit)
        return self._state_of(user_id, acc, rows, reg, month, now)

    def _state_of(
        self, user_id: str, acc: Account, rows: list[Row], reg: Registry, month: str, now: datetime
    ) -> CreditsState:
        plan = current_plan(acc, reg)
        return CreditsState(
            user_id=user_id,
            plan=plan.id,
            balance=acc.balance,
            monthly_included=plan.monthly_included,
            soft_cap=plan.soft_cap,
            enforce=self.enforce,
            month=month,
            ledger_tail=tuple(rows),
            registry_version=reg.version,
            available=acc.available(now),
            holds=acc.active_holds(now),
        )

    def ledger_tail(self, user_id: str, limit: int = 20) -> list[Row]:
        """The user's last ``limit`` rows (1–500), newest first."""
        return self.store.tail(keys.check_user(user_id), _clamp(limit))

    @property
    def saved_registry(self) -> Registry:
        """The current registry document exactly as saved (``registry`` applies the starter plan)."""
        return self.registries.current()

    def registry_versions(self) -> list[dict[str, Any]]:
        """``[{version, updatedAt}]`` of every stored registry, newest first."""
        return self.registries.versions()

    def registry_version(self, version: int) -> Registry:
        """One stored registry version (``NotFound`` when absent)."""
        return self.registries.get(version)

    def preview_registry(self, doc: dict[str, Any]) -> Registry:
        """``doc`` validated as the next version would be (nothing saved)."""
        return registry_editing.preview(doc, self.registries.current())

    def save_registry(self, body: dict[str, Any]) -> Registry:
        """Save a whole document or ``{"patch": …}`` (``expectedVersion`` optional) as the next version."""
        return registry_editing.save_or_patch(self.registries, body)

    def matrix(self) -> dict[str, Any]:
        """Tools with credits, plans and packs of the current registry."""
        return self.registry.matrix()

    def top_up_path(self) -> dict[str, Any]:
        """Where a short balance can be topped up (part of a 402 answer)."""
        return self._top_up_path_of(self.registry)

    def _top_up_path_of(self, reg: Registry) -> dict[str, Any]:
        cached = self._top_up_paths
        if cached is not None and cached[0] is reg:
            return cached[1]
        packs = [{"id": p.id, "label": p.label, "credits": p.credits} for p in reg.packs]
        path = {"packs": packs, "accountUrl": self.account_url}
        self._top_up_paths = (reg, path)
        return path

    # -- mutations ---------------------------------------------------------
    def debit(self, user_id: str, tool_id: str, idempotency_key: str) -> DebitResult:
        """Charge a tool once per key (rules 4–5); a repeat replays the first answer."""
        return self.store.transact(user_id, self._debit_decision(user_id, tool_id, idempotency_key))

    async def debit_async(self, user_id: str, tool_id: str, idempotency_key: str) -> DebitResult:
        """``debit`` for the event loop: the store's own async group commit, else a worker thread."""
        decide = self._debit_decision(user_id, tool_id, idempotency_key)
        return await self._transact_async(user_id, decide)

    def _debit_decision(
        self, user_id: str, tool_id: str, idempotency_key: str
    ) -> Callable[[Account, Lookup], Decision[DebitResult]]:
        keys.check_user(user_id)
        key = keys.check_key(idempotency_key)
        name = keys.debit_name(key)
        reg, now, enforce = self.registry, self.now(), self.enforce
        path = self._top_up_path_of(reg)

        def decide(acc: Account, lookup: Lookup) -> Decision[DebitResult]:
            found = lookup(name)
            if found is not None:
                refund = lookup(keys.refund_name(key)) if found.user_id == user_id else None
                return Decision([], replay_debit(found, user_id, str(tool_id), refund))
            return decide_debit(acc, reg, tool_id, key, now, enforce=enforce, top_up=path)

        return self._rolled(decide, reg, now)

    async def _transact_async(self, user_id: str, decide: Callable[[Account, Lookup], Decision[T]]) -> T:
        native = getattr(self.store, "transact_async", None)
        if native is not None:
            return await native(user_id, decide)
        return await asyncio.get_running_loop().run_in_executor(None, self.store.transact, user_id, decide)

    def refund(self, idempotency_key: str, reason: str = "action failed") -> RefundResult:
        """Return a debit's credits to their buckets, once (rule 6)."""
        key = keys.check_key(idempotency_key)
        debit = self.store.find(keys.debit_name(key))
        if debit is None:
            raise NotFound(f"no debit with idempotencyKey {key!r}", idempotencyKey=key)
        reason = str(reason or "action failed")[:200]
        now = self.now()

        def decide(acc: Account, lookup: Lookup) -> Decision[RefundResult]:
            return refund_rows(acc, lookup(keys.debit_name(key)), key, reason, now, lookup(keys.refund_name(key)))

        return self.store.transact(debit.user_id, self._rolled(decide, now=now))

    def change_plan(
        self, user_id: str, plan_id: str, *, dry_run: bool = False, request_id: str | None = None, **meta: Any
    ) -> PlanChange:
        """Switch plan with trim and bounded upgrade grant (rule 3); ``dry_run`` writes nothing.

        ``plan_id`` may be ``NO_PLAN`` (a subscription ended). ``meta`` is kept on the
        plan row (e.g. the Stripe subscription that caused it).
        """
        keys.check_user(user_id)
        request_id = keys.check_key(request_id or uuid.uuid4().hex, "requestId")
        reg, now = self.registry, self.now()
        reg.plan(plan_id)

        def decide(acc: Account, lookup: Lookup) -> Decision[PlanChange]:
            return plan_change_rows(acc, reg, plan_id, request_id, now, lookup, dry_run=dry_run, **meta)

        if dry_run:
            acc = self.store.account(user_id)
            rolled = acc.with_rows(rollover_rows(acc, reg, now))
            return decide(rolled, self.store.find).result  # type: ignore[return-value]
        return self.store.transact(user_id, self._rolled(decide, reg, now))

    def top_up(
        self,
        user_id: str,
        pack_id: str,
        reference: str,
        *,
        credits: int | None = None,
        price: int | None = None,
        currency: str | None = None,
        **meta: Any,
    ) -> TopUpResult:
        """Credit a pack to the purchased bucket once per ``reference`` (rule 7).

        ``credits``/``price``/``currency`` come from the paid Checkout Session
        when given, so a registry change after checkout cannot alter a payment.
        """
        return self.settle_top_up(
            user_id, pack_id, reference, credits=credits, price=price, currency=currency, charge=None, **meta
        ).topup

    def settle_top_up(
        self,
        user_id: str,
        pack_id: str,
        reference: str,
        *,
        charge: ChargeState | None,
        credits: int | None = None,
        price: int | None = None,
        currency: str | None = None,
        **meta: Any,
    ) -> Settlement:
        """``top_up`` net of the refunds of the session's ``charge``, in one transaction.

        Credits the unrefunded share once, or takes back what newer refunds
        want from a credited one (``policy.stripe_refunds``).
        """
        keys.check_user(user_id)
        reference = keys.check_key(reference, "sessionId")
        if credits is not None:
            credits = _integer(credits, "credits", low=1, high=MAX_CREDITS)
        if price is not None:
            price = _integer(price, "price", low=0, high=MAX_CREDITS * 1000)
        reg, now = self.registry, self.now()
        try:
            pack = reg.pack(pack_id)
        except UnknownPack:
            if credits is None or price is None or currency is None:
                raise
            pack = Pack(id=str(pack_id), label=str(pack_id), credits=credits, price=price, currency=currency)
        if price is not None or currency is not None:  # record what was paid, not today's list price
            pack = pack.model_copy(update={"price": price or pack.price, "currency": currency or pack.currency})

        def decide(acc: Account, lookup: Lookup) -> Decision[Settlement]:
            return settle_topup_rows(acc, reg, pack, reference, now, lookup, charge=charge, credits=credits, **meta)

        return self.store.transact(user_id, self._rolled(decide, reg, now))

    def run_metered(
        self, user_id: str, tool_id: str, key: str, action: Callable[[], T], *, reason: str = "action failed"
    ):
        """Charge ``tool_id`` once, run ``action``, refund if it raises (see ``credits_core.metered``)."""
        from .metered import run_metered

        return run_metered(self, user_id, tool_id, key, action, reason=reason)

    def adjust(self, user_id: str, key: str, delta: int, bucket: str, reason: str) -> TopUpResult:
        """A manual ops correction under ``CZ_SMCR|adjust|<key>``."""
        keys.check_user(user_id)
        key = keys.check_key(key, "key")
        delta = _integer(delta, "delta", low=-MAX_CREDITS, high=MAX_CREDITS)
        now = self.now()

        def decide(acc: Account, lookup: Lookup) -> Decision[TopUpResult]:
            return adjust_rows(acc, key, delta, bucket, str(reason)[:200], now, lookup(keys.adjust_name(key)))

        return self.store.transact(user_id, self._rolled(decide, now=now))

    def reverse_top_up(self, session_id: str, why: str) -> Row:
        """Take back a top-up no payment backs, once (``policy.reversals``; reconciliation's repair)."""
        topup = self.store.find(keys.topup_name(keys.check_key(session_id, "sessionId")))
        if topup is None:
            raise NotFound(f"no top-up for session {session_id!r}", sessionId=session_id)
        now = self.now()

        def decide(acc: Account, lookup: Lookup) -> Decision[Row]:
            return reversal_rows(acc, topup, session_id, why, now, lookup(reversal_name(session_id)))

        return self.store.transact(topup.user_id, self._rolled(decide, now=now))

    # -- composition -------------------------------------------------------
    def _rolled(
        self,
        decide: Callable[[Account, Lookup], Decision[T]],
        reg: Registry | None = None,
        now: datetime | None = None,
    ) -> Callable[[Account, Lookup], Decision[T]]:
        """``decide`` preceded by any pending monthly grants and releases of expired holds, in one decision."""
        reg = reg or self.registry
        now = now or self.now()
        at = stamp(now)  # once per call, before the writer runs it
        month = at[:7]  # = month_of(now): stamp is UTC ISO text

        def run(acc: Account, lookup: Lookup) -> Decision[T]:
            grants = rollover_rows(acc, reg, now) if acc.month != month else []
            if grants:
                acc = acc.with_rows(grants)
            ends = expiry_rows(acc, now, at)  # expired holds are released by the user's next transaction
            if not grants and not ends:  # nothing due: the common case
                return decide(acc, lookup)
            inner = decide(acc.with_rows(ends), lookup)
            return Decision(grants + ends + inner.rows, inner.result)

        return run


def _clamp(limit: int) -> int:
    return max(1, min(MAX_TAIL, _integer(limit, "limit")))


def _integer(value: object, what: str, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` when it is a real integer (not a bool, a float or text) in ``[low, high]``, else ``BadRequest``."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)  # int, numpy integers; not float or text
    except TypeError:
        raise BadRequest(f"{what} must be an integer (got {type(value).__name__})", field=what) from None
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = (
            f"at least {low:,}"
            if high is None
            else f"at most {high:,}"
            if low is None
            else f"between {low:,} and {high:,}"
        )
        raise BadRequest(f"{what} must be {bounds}", field=what)
    return number
