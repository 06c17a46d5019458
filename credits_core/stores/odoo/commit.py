"""The one write path, ``transact``: decide on a view, create, verify, compensate.

Concurrency — ``crm.lead`` has no unique constraint, so *write, verify,
compensate*, with one rule every process applies alike (``fold.py``):
**the verdict of a write is a function of the active rows with lower ids**.
Folding a user's active rows in id order, a write (the rows of one
``create``) is rejected if a lower accepted id holds one of its names, if the
account it was decided on (``base``, stored beside the rows) is not the one
the accepted rows before it add up to, or if it takes a bucket it draws from
below zero (a write that only adds credits never can); a hold written without
a base, if it holds more than is available (``fold.py``). So an accepted row's
``balanceAfter`` and bucket split are the ledger's, and first answers and
replays agree byte for byte, from any process.

``transact(user, decide)``:

1. **View**: this process's copy of the account (verified by its last write,
   less than ``cache_s`` ago, no other writer seen lately), else the newest
   rows of the user judged one by one on top of the aggregate of the older
   ones (settled: a rejected row is withdrawn by whoever judges it first).
   One writer per user per process (a striped lock). Month-state rows
   (grant, plan, upgrade, trim) are never sized on the copy.
2. **Create** the rows in one ``create``, each with a write token and the
   base. A lost answer is never blindly retried: the token tells whether
   they committed.
3. **Verify**: wait for lower ids in flight (``view.py``), then re-read the
   aggregate (plus rows of other users with our names). If it is the view
   plus exactly our rows, nothing joined or left: accepted — three requests
   for a warm debit. Otherwise fold the newest rows: our verdict; every
   rejected row met is archived (``write(ids, {"active": False})``).
4. A rejected write is archived and ``decide`` runs again on the fold's
   canonical view after a jittered, growing back-off (bounded attempts, then
   ``LedgerUnavailable``): the loser of a name finds the winner's row
   (replay of the first answer, or ``idempotency_conflict``); a stale or
   overdrawing write is decided again (→ success with exact answers or 402).

Known limits (README): if Odoo vanishes between ``create`` and the verify
the rows stay and a retry with the same key finds them (judged like any
other); a request Odoo still executes after the client gave up can commit
late (the lookup after a lost answer checks twice; then the gap rule); the
newest ``_TAIL`` rows of a user are judged one by one and older active rows
are taken as accepted. ``cache_s=0`` turns the copy off.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ...errors import CreditsError, InsufficientCredits, LedgerUnavailable, StateConflict
from ...models import Account, Row
from ..base import Decision, Lookup, append_all
from .fold import base_of
from .rows import STATE_KINDS, add_rows, check_row, fingerprint, kind_of_name, to_vals, txn_of
from .view import OdooViews, View

T = TypeVar("T")


@dataclass
class _Outcome:
    kept: bool
    reason: str = ""
    next_view: View | None = None


class _Lookup:
    """``lookup(name)`` for one attempt: memoised, cheap where the view already knows."""

    def __init__(self, store: OdooCommit, view: View, known: Mapping[str, Row | None] | None = None) -> None:
        self.store, self.view = store, view
        self.seen: dict[str, Row | None] = dict(known or {})

    def __call__(self, name: str) -> Row | None:
        if name not in self.seen:
            self.seen[name] = self._resolve(name)
        return self.seen[name]

    def _resolve(self, name: str) -> Row | None:
        if not self.view.cached and kind_of_name(name) in STATE_KINDS and not self.view.has_key(name):
            return None  # state rows are aggregate keys: absent from a fresh view means absent
        recent = self.store._recent_find(name)
        if recent is not None:
            return recent[0]
        return self.store._find(name)

    def known(self, name: str) -> Row | None:
        """A row of that name already met without asking Odoo (or None)."""
        if name in self.seen:
            return self.seen[name]
        recent = self.store._recent_find(name)
        return recent[0] if recent else None


class OdooCommit(OdooViews):
    """``transact`` (a layer of :class:`~.store.OdooStore`, which sets this state)."""

    max_attempts: int
    _stripes: list[threading.Lock]  # one writer per user in this process

    # -- the one write path --------------------------------------------------------------
    def transact(self, user_id: str, decide: Callable[[Account, Lookup], Decision[T]]) -> T:
        self._flush_pending()
        with self._stripes[hash(user_id) % len(self._stripes)]:
            view = self._cached(user_id) or self._proper_view(user_id)
            for attempt in range(self.max_attempts):
                lookup = _Lookup(self, view)
                try:
                    decision = decide(view.account, lookup)
                except CreditsError as exc:
                    short = isinstance(exc, InsufficientCredits)  # confirmed on a settled, canonical re-read
                    again = self._confirm(view, settle=short) if view.cached or short else None
                    if again is None:
                        raise
                    view = again
                    continue
                rows = append_all(decision.rows)
                if not rows:
                    again = self._confirm(view) if view.cached else None
                    if again is None:
                        return decision.result  # type: ignore[return-value]
                    view = again
                    continue
                if view.cached and any(r.kind in STATE_KINDS for r in rows):
                    again = self._confirm(view)  # grants, trims and upgrades are never sized on a copy
                    if again is not None:
                        view = again
                        continue
                    view.cached = False
                try:
                    self._precheck(user_id, view, rows, lookup)
                except StateConflict:
                    again = self._confirm(view) if view.cached else None
                    if again is None:
                        raise
                    view = again
                    continue
                outcome = self._write(view, rows)
                if outcome.kept:
                    return decision.result  # type: ignore[return-value]
                self._forget_finds()  # a name race may have changed what the service's find saw
                if outcome.reason != "not committed":
                    time.sleep(self._backoff(attempt))  # another process wrote meanwhile: let it finish
                view = outcome.next_view or self._proper_view(user_id)
        raise LedgerUnavailable(
            f"the ledger is busy: {self.max_attempts} attempts for {user_id!r} collided with concurrent changes; "
            "nothing was written, try again",
            reason="contention",
        )

    def _precheck(self, user_id: str, view: View, rows: list[Row], lookup: _Lookup) -> None:
        """What can be refused before writing: existing names, negative buckets, foreign rows."""
        for row in rows:
            exists = view.has_key(row.name) and lookup(row.name) is not None if row.kind in STATE_KINDS else False
            if exists or lookup.known(row.name) is not None or (row.user_id != user_id and self._find(row.name)):
                raise StateConflict("that ledger row already exists; nothing was written")
        for row in rows:
            check_row(row, user_id)
        after = view.account.with_rows(rows)
        if after.balance.included < 0 or after.balance.purchased < 0:
            raise StateConflict("that change would take a balance below zero; nothing was written")

    def _write(self, view: View, rows: list[Row]) -> _Outcome:
        """Create, wait for lower ids still in flight, verify; withdraw our rows unless accepted."""
        user = view.user
        txn = uuid.uuid4().hex
        names = [r.name for r in rows]
        base = base_of(view.account)
        ids, timed_out = self._create([to_vals(r, txn, base) for r in rows])
        try:
            if ids is None:  # the answer was lost: did it commit?
                named = self._committed(names, txn, timed_out)
                if named is None:
                    return _Outcome(False, "not committed")
                ids = [r["id"] for n in names for r in named if r["name"] == n and txn_of(r) == txn]
            late = self._await_below(min(ids), mine=set(ids))
            groups, foreign = self._read_groups(user, names)
        except LedgerUnavailable:
            if ids is not None:
                self._try_archive(ids)
            raise
        pairs = list(zip(ids, rows, strict=True))
        if not late and not foreign and fingerprint(groups) == fingerprint(add_rows(view.groups, pairs)):
            # Nothing joined or left since the view, which was canonical: the fold accepts ours as decided.
            self._remember(View(user, groups, view.account.with_rows(rows)))
            self._settle_to(user, max(ids))
            return _Outcome(True)
        self._contend(user)
        try:
            after, verdict = self._judge(user, set(ids), names)
        except BaseException:
            self._try_archive(ids)
            raise
        if verdict == "accepted":
            return _Outcome(True)
        self._archive(ids)
        return _Outcome(False, verdict, next_view=after)

    def _judge(self, user: str, ids: set[int], names: list[str]) -> tuple[View, str]:
        """Fold the user's newest rows (ours among them): the verdict of ours, and the canonical view after.

        Every rejected row met is withdrawn (any process reaches the same verdict), so the view that is
        returned counts exactly the accepted rows.
        """
        view, judged = self._proper_view(user, covering=min(ids), names=names, with_fold=True)
        verdicts = {judged.verdict(i) for i in ids}
        verdict = "accepted" if verdicts == {"accepted"} else next(v for v in sorted(verdicts) if v != "accepted")
        others = [rid for rid in judged.rejected if rid not in ids]
        if others:
            self._try_archive(others)
        if verdict == "accepted":
            self._remember(view)
        return view, verdict or "stale"

    def _confirm(self, view: View, *, settle: bool = False) -> View | None:
        """A canonical re-read: None if the account is the one decided on (the outcome stands), else the new view."""
        if settle:
            time.sleep(self._jitter(self._name_wait()))
        groups, _ = self._read_groups(view.user)
        if fingerprint(groups) == view.fp:
            return None  # not a row joined or left
        fresh = self._proper_view(view.user)
        self._remember(fresh)
        return None if fresh.account == view.account else fresh

    def _committed(self, names: list[str], txn: str, timed_out: bool) -> list[dict[str, Any]] | None:
        """Records of ``names`` once our write token is among them; None when it certainly did not commit.

        After a dropped connection or an HTTP error Odoo is done with the request: look twice. After a
        timeout it may still be working on it: watch for up to ``timeout_s``, then give up without
        writing again (``LedgerUnavailable``; a retry with the same key finds the row if it lands).
        """
        deadline = time.monotonic() + (self._client.timeout_s if timed_out else 0.0)
        checks = 0
        while True:
            named = self._named(names)
            if sum(1 for r in named if txn_of(r) == txn) == len(names):
                return named
            checks += 1
            if checks >= 2 and time.monotonic() >= deadline:
                break
            time.sleep(max(self._jitter(self._name_wait()), 0.02 if timed_out else 0.0))
        if timed_out:
            raise LedgerUnavailable(
                "Odoo did not confirm whether the change was recorded; retry with the same key", reason="unconfirmed"
            )
        return None

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, base·2^attempt], base ≈ a few round trips, capped at 0.5 s."""
        base = 4 * self._client.rtt + 0.004
        return self._rng.uniform(0, min(0.5, base * 2 ** min(attempt, 8)))
