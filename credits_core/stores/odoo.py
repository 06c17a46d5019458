"""Odoo store: the ledger as ``crm.lead`` records, over JSON-RPC or JSON-2.

Configuration (:meth:`OdooStore.from_env`): ``ODOO_URL``, ``ODOO_DB``,
``ODOO_USERNAME``, ``ODOO_API_KEY``, ``ODOO_PROTOCOL`` = ``jsonrpc`` (default)
or ``json2``. The constructor checks server, database and key
(``common.version`` + ``common.authenticate`` for jsonrpc, ``/web/version``
for json2, then one authenticated ``fields_get`` of the fields used) and
raises ``ConfigError`` naming the variable; the key is never in a message.
JSON-2 identifies the user by the key alone (``ODOO_USERNAME`` is only
checked by jsonrpc).

Row ↔ field mapping and the one-aggregate account: ``odoo_rows.py`` (the
README copies its table). Transport and error envelopes: ``odoo_client.py``.

Concurrency — ``crm.lead`` has no unique constraint, so *write, verify,
compensate*. ``transact(user, decide)``:

1. **View**: the user's aggregate (one ``read_group`` /
   ``formatted_read_group``), or this process's copy of it when it verified
   it less than ``cache_s`` ago, no other thread here is writing for that user
   and no other writer was seen on it lately. ``decide`` runs on it; its
   lookups use the name the service has just ``find``-ed, the aggregate's keys
   (state rows), or one ``search_read``. Rows that move the month state
   (grant, plan, upgrade, trim) are never sized on the copy: it is re-read.
2. **Create** the rows in one ``create`` (one Odoo transaction), each with a
   write token. A lost answer is never blindly retried: the verify looks the
   names up and the token tells whether they committed.
3. **Verify** by a *full* re-read of the user's aggregate plus any row of
   another user carrying one of the names. If it is the view plus exactly the
   new rows (count, sums, distinct names and summed ids per group), nothing
   else happened: done — three requests for a warm debit.
4. Otherwise **judge**; rows that must go are archived
   (``write(ids, {"active": False})``) and ``decide`` runs again on a new view
   (bounded attempts, jittered growing back-off, then ``LedgerUnavailable``):

   * *names* — another active row carries one of our names. The older one
     (lower id) wins: a writer that sees an older rival archives its own; a
     writer that sees only younger rivals waits for them to disappear (their
     writers see ours and back off) and gives up its own if they stay (their
     writer verified before ours committed). The loser's next attempt finds
     the survivor: replay of the FIRST answer (kept in the row's meta) or
     ``idempotency_conflict`` for another user's key;
   * *balance* — a bucket of the de-duplicated balance is negative and our
     rows take from it: archive, back off, retry (→ success or 402);
   * *stale* — the view was the copy, or the rows move the month state:
     ``decide`` re-runs on the fresh aggregate minus our rows. Rows that move
     the same amounts stand (only their ``balanceAfter`` may have missed a
     concurrent change: someone may already have replayed them); rows that
     would move other amounts are archived and decided again — unless a racer
     for one of our names was seen (it may have replayed ours).

Why it is safe: a row is visible from its commit on and every writer verifies
after its own commit, so of two writers of one name, or of two debits that
together overspend, the one that verifies last sees the other. For names the
id order settles who stays when both see each other; if only the younger
sees the older, the younger goes; if only the older sees the younger, it
waits for it and goes if it stays. For balances, every writer that sees a
negative bucket it draws from backs off; the last one to verify saw all kept
debits, so the kept set never overdraws a bucket — provided the credits it
saw stay: a credit row (grant, top-up, refund) is only withdrawn with the rest
of its decision (lost name race, overdraft or stale amounts of a mixed
decision), whose writer decides again at once and normally writes it again.
``find`` answers the lowest active id; decision errors taken on a copy, and
402s, are confirmed on a re-read before they are returned.

Known limits (README): a row is visible before its writer verified it, so a
replay can meet a row that is then withdrawn for an older same-name row or an
overdraft (same-key and overdraft races at once; ``_settle`` narrows it for
racers); answers of writers racing on one user (or deciding on a copy another
process has since changed) report the balance of their own view, never a
wrong charge; if Odoo vanishes between ``create`` and the verify the rows stay
and a retry with the same key finds them; a request Odoo still executes after
the client gave up on it can commit late (the lookup after a lost answer
checks twice); a debit that relied on a credit row of a decision withdrawn
and never redone (Odoo gone for good in between) can leave a bucket short.
``cache_s=0`` turns the copy off (4 requests per debit).

Failures: reads are retried (``retries``, jittered); a ``create`` only when
the connection never opened; archive writes are idempotent and retried
(left-overs are retried by this process's next transaction). Anything else:
``LedgerUnavailable`` with a short reason (no Odoo traceback, no key).
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlparse

from ..errors import ConfigError, Conflict, CreditsError, LedgerUnavailable, PaymentRequired
from ..models import Account, Row
from ..policy.ledger import Decision, Lookup
from .base import DailyTotal, RowFilter, ToolUsage, append_all
from .odoo_client import OdooClient, OdooError, OdooTransportError
from .odoo_reads import OdooLedgerReads
from .odoo_rows import (
    AGGREGATES,
    LEDGER_DOMAIN,
    READ_FIELDS,
    STATE_KINDS,
    Group,
    account_from_groups,
    add_rows,
    check_row,
    dedupe,
    fingerprint,
    from_record,
    has_duplicates,
    kind_of_name,
    remove_rows,
    to_group,
    to_vals,
    ts,
    txn_of,
)

T = TypeVar("T")

ENV_VARS = ("ODOO_URL", "ODOO_DB", "ODOO_USERNAME", "ODOO_API_KEY")
PROTOCOLS = ("jsonrpc", "json2")
# No chatter message, follower or tracking value per ledger row (mail.thread context keys).
WRITE_CONTEXT = {
    "tracking_disable": True,
    "mail_create_nolog": True,
    "mail_create_nosubscribe": True,
    "mail_notrack": True,
}
_NEEDED_FIELDS = (
    "name",
    "type",
    "active",
    "expected_revenue",
    "color",
    "partner_name",
    "contact_name",
    "referred",
    "function",
    "city",
    "street",
    "street2",
    "zip",
)
_FIND_TTL_S = 2.0


@dataclass
class _View:
    """The aggregate a decision is taken on."""

    user: str
    groups: list[Group]
    account: Account
    cached: bool = False
    at: float = field(default_factory=time.monotonic)

    @property
    def fp(self) -> tuple[Any, ...]:
        return fingerprint(self.groups)

    def has_key(self, key: str) -> bool:
        return any(g.key == key for g in self.groups)


@dataclass
class _Outcome:
    kept: bool
    reason: str = ""
    next_view: _View | None = None
    rivals: frozenset[int] = frozenset()


class _Lookup:
    """``lookup(name)`` for one attempt: memoised, cheap where the view already knows."""

    def __init__(self, store: OdooStore, view: _View, known: Mapping[str, Row | None] | None = None) -> None:
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


class OdooStore(OdooLedgerReads):
    """The ledger in Odoo ``crm.lead`` (see module docstring)."""

    def __init__(
        self,
        url: str,
        db: str,
        username: str,
        api_key: str,
        *,
        protocol: str = "jsonrpc",
        timeout_s: float = 10.0,
        retries: int = 3,
        max_attempts: int = 10,
        cache_s: float = 10.0,
        transport: Any = None,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ConfigError(
                f"ODOO_PROTOCOL must be 'jsonrpc' or 'json2' (got {protocol!r})", variable="ODOO_PROTOCOL"
            )
        self.protocol = protocol
        self.retries = max(0, int(retries))
        self.max_attempts = max(1, int(max_attempts))
        self.cache_s = float(cache_s)
        self._client = OdooClient(
            url, db, username, api_key, protocol=protocol, timeout_s=timeout_s, transport=transport
        )
        self._lock = threading.Lock()
        self._cache: dict[str, _View] = {}
        self._inflight: dict[str, int] = {}
        self._contended: dict[str, float] = {}
        self._pending_archive: set[int] = set()
        self._local = threading.local()
        self._rng = random.Random()
        try:
            self._check_server()
        except BaseException:
            self._client.close()
            raise

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **options: Any) -> OdooStore:
        """Build from ``ODOO_*`` variables; missing or wrong ones → ``ConfigError`` naming them."""
        values = {name: str(environ.get(name, "") or "").strip() for name in ENV_VARS}
        missing = [name for name, value in values.items() if not value]
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            raise ConfigError(
                f"{' and '.join(missing)} {verb} not set (CZ_LEDGER=odoo needs {', '.join(ENV_VARS)})",
                variable=missing[0],
                missing=missing,
            )
        parsed = urlparse(values["ODOO_URL"])
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError("ODOO_URL must be an http(s) URL such as https://odoo.example.com", variable="ODOO_URL")
        protocol = str(environ.get("ODOO_PROTOCOL", "") or "").strip().lower() or "jsonrpc"
        return cls(
            values["ODOO_URL"],
            values["ODOO_DB"],
            values["ODOO_USERNAME"],
            values["ODOO_API_KEY"],
            protocol=protocol,
            **options,
        )

    def close(self) -> None:
        self._client.close()

    # -- start-up check --------------------------------------------------------------
    def _check_server(self) -> None:
        url = self._client.url
        try:
            info = self._client.version()
        except OdooTransportError as exc:
            raise ConfigError(f"ODOO_URL: {self._client.scrub(exc.message)}", variable="ODOO_URL") from None
        except OdooError:
            raise ConfigError(f"ODOO_URL: {url} does not answer like an Odoo server", variable="ODOO_URL") from None
        major = _major(info)
        if self.protocol == "json2" and major is not None and major < 19:
            raise ConfigError(
                f"ODOO_PROTOCOL: json2 needs Odoo 19 or later ({url} runs {major})", variable="ODOO_PROTOCOL"
            )
        try:
            if self.protocol == "jsonrpc" and self._client.authenticate() is None:
                raise ConfigError(
                    f"ODOO_API_KEY: Odoo refused the login {self._client.username!r} with this key "
                    "(check ODOO_USERNAME and ODOO_API_KEY)",
                    variable="ODOO_API_KEY",
                )
            described = self._client.call("fields_get", allfields=list(_NEEDED_FIELDS), attributes=["type", "store"])
        except OdooTransportError as exc:
            raise ConfigError(f"ODOO_URL: {self._client.scrub(exc.message)}", variable="ODOO_URL") from None
        except OdooError as exc:
            raise self._config_error(exc) from None
        absent = [f for f in _NEEDED_FIELDS if f not in (described or {})]
        if absent:
            raise ConfigError(
                f"ODOO_URL: crm.lead on {url} lacks {', '.join(absent)} (is the CRM app installed?)",
                variable="ODOO_URL",
            )

    def _config_error(self, exc: OdooError) -> ConfigError:
        text = exc.message.lower()
        db = self._client.db
        if "operationalerror" in exc.name.lower() or "does not exist" in text or exc.status == 404:
            return ConfigError(f"ODOO_DB: database {db!r} was not found on {self._client.url}", variable="ODOO_DB")
        if exc.status == 401 or exc.session_invalid or "apikey" in text or "api key" in text:
            return ConfigError(
                "ODOO_API_KEY: Odoo refused this API key (revoked, or for another database?)", variable="ODOO_API_KEY"
            )
        return ConfigError(
            f"ODOO_URL: Odoo refused the start-up check ({self._client.scrub(exc.short)})", variable="ODOO_URL"
        )

    # -- reads -------------------------------------------------------------------------
    def account(self, user_id: str) -> Account:
        view = self._fresh_view(user_id)
        self._remember(view)
        return view.account

    def find(self, name: str) -> Row | None:
        row = self._find(name)
        finds = getattr(self._local, "finds", None)
        if finds is None:
            finds = self._local.finds = {}
        finds.clear()
        finds[name] = (row, time.monotonic())
        return row

    def tail(self, user_id: str, limit: int) -> list[Row]:
        if limit <= 0:
            return []
        return self._search([["partner_name", "=", user_id], *LEDGER_DOMAIN], order="id desc", limit=limit)

    def rows(self, where: RowFilter = RowFilter(), limit: int | None = None) -> list[Row]:
        return self._search(_domain(where), order="id desc", limit=limit)

    def daily_totals(self, where: RowFilter = RowFilter()) -> list[DailyTotal]:
        raw = self._group(_domain(where), ["city", "referred"], {"delta": "expected_revenue:sum", "n": "__count"})
        totals = [
            DailyTotal(r["city"] or "", r["referred"] or "", round(r["delta"] or 0), int(r["n"] or 0)) for r in raw
        ]
        return sorted(totals, key=lambda t: (t.day, t.kind))

    def top_tools(self, where: RowFilter = RowFilter(), limit: int = 10) -> list[ToolUsage]:
        domain = _domain(RowFilter(where.user_id, ("debit",), where.since, where.until))
        raw = self._group(domain, ["street"], {"delta": "expected_revenue:sum", "n": "__count"})
        sums: dict[str, list[int]] = {}
        for r in raw:
            cell = sums.setdefault(r["street"] or "?", [0, 0])
            cell[0] -= round(r["delta"] or 0)
            cell[1] += int(r["n"] or 0)
        ranked = sorted(sums.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))
        return [ToolUsage(t, c, n) for t, (c, n) in ranked[:limit]]

    def accounts(self) -> list[Account]:
        raw = self._group(LEDGER_DOMAIN, ["partner_name", "contact_name"], AGGREGATES)
        by_user: dict[str, list[Group]] = {}
        for r in raw:
            by_user.setdefault(r["partner_name"] or "", []).append(to_group(r))
        return [self._account_of(user, groups) for user, groups in sorted(by_user.items())]

    # -- the one write path --------------------------------------------------------------
    def transact(self, user_id: str, decide: Callable[[Account, Lookup], Decision[T]]) -> T:
        self._flush_pending()
        with self._claim(user_id) as alone:
            view = (self._cached(user_id) if alone else None) or self._fresh_view(user_id)
            for attempt in range(self.max_attempts):
                lookup = _Lookup(self, view)
                try:
                    decision = decide(view.account, lookup)
                except CreditsError as exc:
                    short = isinstance(exc, PaymentRequired)  # may come from a racer's row that is withdrawn
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
                except Conflict:
                    again = self._confirm(view) if view.cached else None
                    if again is None:
                        raise
                    view = again
                    continue
                outcome = self._write(view, rows, decide)
                if outcome.kept:
                    return decision.result  # type: ignore[return-value]
                self._forget_finds()  # a name race may have changed what the service's find saw
                view = self._after_backoff(user_id, outcome, rows, attempt)
        raise LedgerUnavailable(
            f"the ledger is busy: {self.max_attempts} attempts for {user_id!r} collided with concurrent changes; "
            "nothing was written, try again",
            reason="contention",
        )

    def _precheck(self, user_id: str, view: _View, rows: list[Row], lookup: _Lookup) -> None:
        """What can be refused before writing: existing names, negative buckets, foreign rows."""
        for row in rows:
            exists = view.has_key(row.name) if row.kind in STATE_KINDS else False
            if exists or lookup.known(row.name) is not None or (row.user_id != user_id and self._find(row.name)):
                raise Conflict("that ledger row already exists; nothing was written")
        for row in rows:
            check_row(row, user_id)
        after = view.account.with_rows(rows)
        if after.balance.included < 0 or after.balance.purchased < 0:
            raise Conflict("that change would take a balance below zero; nothing was written")

    def _write(self, view: _View, rows: list[Row], decide: Callable[[Account, Lookup], Decision[Any]]) -> _Outcome:
        """Create, verify, judge; archive our rows unless they stand (module docstring, steps 2–4)."""
        user = view.user
        txn = uuid.uuid4().hex
        names = [r.name for r in rows]
        ids, timed_out = self._create([to_vals(r, txn) for r in rows])
        try:
            groups, foreign = self._read_groups(user, names)
            rivals: list[dict[str, Any]] | None = None
            if ids is None:  # the answer was lost: did it commit?
                named = self._committed(names, txn, timed_out)
                if named is None:
                    return _Outcome(False, "not committed", next_view=self._view_of(user, groups))
                ids = [r["id"] for n in names for r in named if r["name"] == n and txn_of(r) == txn]
                rivals = [r for r in named if r["id"] not in set(ids)]
        except LedgerUnavailable:
            if ids is not None:
                self._try_archive(ids)
            raise
        pairs = list(zip(ids, rows, strict=True))
        if not rivals and not foreign and fingerprint(groups) == fingerprint(add_rows(view.groups, pairs)):
            self._remember(_View(user, groups, view.account.with_rows(rows)))
            return _Outcome(True)
        self._contend(user)
        try:
            outcome = self._judge(view, rows, pairs, groups, rivals, decide)
        except BaseException:
            self._try_archive(ids)
            raise
        if not outcome.kept:
            self._archive(ids)
        return outcome

    def _judge(
        self,
        view: _View,
        rows: list[Row],
        pairs: list[tuple[int, Row]],
        groups: list[Group],
        rivals: list[dict[str, Any]] | None,
        decide: Callable[[Account, Lookup], Decision[Any]],
    ) -> _Outcome:
        """Keep the rows, or say why they must be archived (the caller archives)."""
        user, ids = view.user, {rid for rid, _ in pairs}
        names = [r.name for r in rows]
        ours = {row.name: rid for rid, row in pairs}
        for _round in range(3):
            if rivals is None:
                rivals = [r for r in self._named(names) if r["id"] not in ids]
            if not rivals:
                break
            found = frozenset(r["id"] for r in rivals)
            # Another active row carries one of our names. An older one (lower id) wins: its writer keeps
            # it once ours is gone. Younger ones are archived by their writers when they see ours; wait for
            # that, and give up ours if they stay (their writer verified before ours committed).
            if any(r["id"] < ours.get(r["name"], 0) for r in rivals) or not self._outlast(names, found):
                return _Outcome(False, "name", rivals=found)
            groups, _ = self._read_groups(user, names)
            rivals = None
        else:
            return _Outcome(False, "name")
        groups, deduped = self._settled(user, groups, names)
        fresh = account_from_groups(user, deduped)
        took_included = sum(r.included_delta for r in rows) < 0
        took_purchased = sum(r.purchased_delta for r in rows) < 0
        if (fresh.balance.included < 0 and took_included) or (fresh.balance.purchased < 0 and took_purchased):
            return _Outcome(False, "balance")
        if view.cached or any(r.kind in STATE_KINDS for r in rows):
            base_groups = remove_rows(groups, pairs)
            base = _View(user, base_groups, account_from_groups(user, remove_rows(deduped, pairs)))
            try:
                again = decide(base.account, _Lookup(self, base, known=dict.fromkeys((r.name for r in rows), None)))
                same_money = _money(again.rows) == _money(rows)
            except CreditsError:
                same_money = False
            # Rows that charge or grant what the fresh view would have are kept even if their answer
            # (``balanceAfter``) missed a concurrent change: someone may already have replayed it. Rows that
            # move other amounts are withdrawn — unless a racer for our names was seen, for the same reason.
            if not same_money and not self._raced(names, ids):
                return _Outcome(False, "stale", next_view=base)
        self._remember(_View(user, groups, fresh))
        return _Outcome(True)

    def _after_backoff(self, user: str, outcome: _Outcome, rows: list[Row], attempt: int) -> _View:
        """Wait as the reason asks (randomised, growing), then the view for the next attempt."""
        gone = outcome.reason == "name" and self._settle([r.name for r in rows], outcome.rivals)
        if gone or outcome.reason == "balance":
            time.sleep(self._backoff(attempt))
        if outcome.next_view is not None and outcome.reason != "balance":
            return outcome.next_view
        return self._fresh_view(user)

    def _settle(self, names: list[str], rivals: frozenset[int]) -> bool:
        """Give a rival that may itself be backing off the time to do so; True if it did."""
        for _ in range(2):
            time.sleep(self._jitter(self._name_wait()))
            if not {r["id"] for r in self._named(names)} & rivals:
                return True
        return False

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

    def _raced(self, names: list[str], ids: set[int]) -> bool:
        """Did another row carry one of our names, even one archived since (a racer that backed off)?"""
        found = self._read("search", domain=[["name", "in", list(names)]], context={"active_test": False})
        return any(rid not in ids for rid in found)

    def _outlast(self, names: list[str], rivals: frozenset[int]) -> bool:
        """True once none of the ``rivals`` rows is active any more (polled for a bounded time)."""
        deadline = time.monotonic() + max(0.3, 40 * self._client.rtt)
        while time.monotonic() < deadline:
            time.sleep(self._jitter(self._name_wait()))
            if not {r["id"] for r in self._named(names)} & rivals:
                return True
        return False

    def _confirm(self, view: _View, *, settle: bool = False) -> _View | None:
        """Re-read the aggregate: None if it did not change (the outcome stands), else the new view."""
        if settle:
            time.sleep(self._jitter(self._name_wait()))
        fresh = self._fresh_view(view.user)
        self._remember(fresh)
        return None if fresh.fp == view.fp else fresh

    # -- Odoo calls ------------------------------------------------------------------------
    def _read(self, method: str, **params: Any) -> Any:
        """A read with bounded, jittered retries on transport errors."""
        last: OdooTransportError | None = None
        for attempt in range(self.retries + 1):
            try:
                return self._client.call(method, **params)
            except OdooTransportError as exc:
                last = exc
                if attempt < self.retries:
                    time.sleep(self._jitter(0.01 * 2**attempt))
            except OdooError as exc:
                raise self._unavailable(exc) from None
        raise self._unavailable(last)

    def _create(self, vals: list[dict[str, Any]]) -> tuple[list[int] | None, bool]:
        """``(ids, False)``; ``(None, timed_out)`` when the answer was lost (it may have committed)."""
        last: OdooTransportError | None = None
        for attempt in range(self.retries + 1):
            try:
                ids = self._client.call("create", vals_list=vals, context=WRITE_CONTEXT)
            except OdooTransportError as exc:
                if exc.sent:
                    return None, exc.timeout
                last = exc
                if attempt < self.retries:
                    time.sleep(self._jitter(0.01 * 2**attempt))
                continue
            except OdooError as exc:
                raise self._unavailable(exc) from None
            return ([ids] if isinstance(ids, int) else [int(i) for i in ids]), False
        raise self._unavailable(last)

    def _archive(self, ids: list[int]) -> None:
        """Archive our rows (idempotent; retried; the ids left are retried by the next transaction)."""
        if not self._try_archive(ids, tries=2 * self.retries + 2):
            with self._lock:
                self._pending_archive.update(ids)
            raise LedgerUnavailable(
                "Odoo stopped answering while a conflicting change was being withdrawn; it will be withdrawn "
                "by the next change of this process; try again",
                reason="archive failed",
            )

    def _try_archive(self, ids: list[int], tries: int = 2) -> bool:
        for attempt in range(tries):
            try:
                self._client.call("write", ids=list(ids), vals={"active": False}, context=WRITE_CONTEXT)
                return True
            except OdooTransportError:
                time.sleep(self._jitter(0.02 * 2 ** min(attempt, 5)))
            except OdooError as exc:
                if exc.name != "odoo.exceptions.MissingError":
                    return False
                try:  # some of them were deleted meanwhile: archive the others
                    ids = self._client.call("search", domain=[["id", "in", list(ids)]])
                except (OdooError, OdooTransportError):
                    return False
                if not ids:
                    return True
        return False

    def _flush_pending(self) -> None:
        with self._lock:
            pending = sorted(self._pending_archive)
        if pending and self._try_archive(pending):
            with self._lock:
                self._pending_archive.difference_update(pending)

    def _find(self, name: str) -> Row | None:
        found = self._search([["name", "=", name]], order="id asc", limit=1)
        return found[0] if found else None

    def _named(self, names: list[str]) -> list[dict[str, Any]]:
        """Active records carrying any of ``names`` (any user), with their write token."""
        return self._read(
            "search_read", domain=[["name", "in", list(names)]], fields=["name", "partner_name", "street2"]
        )

    def _search(self, domain: list[Any], *, order: str, limit: int | None = None) -> list[Row]:
        params: dict[str, Any] = {"domain": domain, "fields": READ_FIELDS, "order": order}
        if limit is not None:
            params["limit"] = limit
        return [from_record(r) for r in self._read("search_read", **params)]

    def _group(
        self,
        domain: list[Any],
        groupby: list[str],
        aggregates: Mapping[str, str],
        *,
        order: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Grouped aggregates as ``{groupby field: value, alias: value}`` on either protocol.

        json2 → ``formatted_read_group`` (Odoo 19); jsonrpc → legacy ``read_group``
        with ``alias:func(field)`` specs and ``lazy=False`` (Odoo 16–19).
        """
        if self.protocol == "json2":
            params: dict[str, Any] = {"domain": domain, "groupby": groupby, "aggregates": list(aggregates.values())}
            if order:
                params["order"] = order
            if limit:
                params["limit"] = limit
            raw = self._read("formatted_read_group", **params)
            return [{**{g: r.get(g) for g in groupby}, **{a: r.get(s) for a, s in aggregates.items()}} for r in raw]
        fields = [s if s == "__count" else f"{a}:{s.split(':')[1]}({s.split(':')[0]})" for a, s in aggregates.items()]
        params = {"domain": domain, "fields": fields, "groupby": groupby, "lazy": False}
        if order:
            params["orderby"] = order
        if limit:
            params["limit"] = limit
        raw = self._read("read_group", **params)
        return [
            {
                **{g: r.get(g) for g in groupby},
                **{a: r.get("__count" if s == "__count" else a) for a, s in aggregates.items()},
            }
            for r in raw
        ]

    def _read_groups(self, user: str, names: list[str] | None = None) -> tuple[list[Group], list[Group]]:
        """The user's groups, and (with ``names``) groups of other users' rows carrying those names."""
        domain = [["partner_name", "=", user], *LEDGER_DOMAIN]
        if names:
            domain = ["|", ["partner_name", "=", user], ["name", "in", list(names)], *LEDGER_DOMAIN]
        raw = self._group(domain, ["partner_name", "contact_name"], AGGREGATES)
        mine = [to_group(r) for r in raw if r["partner_name"] == user]
        return mine, [to_group(r) for r in raw if r["partner_name"] != user]

    def _duplicates(self, user: str, groups: list[Group]) -> dict[str, list[tuple[int, Row]]]:
        """Rows of the user's duplicated names (a race being compensated, or left by a crash)."""
        names: set[str] = set()
        for g in groups:
            if g.n <= g.names:
                continue
            if g.state:
                names.add(g.key)
                continue
            domain = [["partner_name", "=", user], ["contact_name", "=", g.key], *LEDGER_DOMAIN]
            raw = self._group(domain, ["name"], {"n": "__count"}, order="__count desc", limit=g.n - g.names)
            names.update(r["name"] for r in raw if (r["n"] or 0) > 1)
        out: dict[str, list[tuple[int, Row]]] = {}
        if names:
            domain = [["partner_name", "=", user], ["name", "in", sorted(names)], *LEDGER_DOMAIN]
            for rec in self._read("search_read", domain=domain, fields=READ_FIELDS, order="id asc"):
                out.setdefault(rec["name"], []).append((rec["id"], from_record(rec)))
        return out

    def _settled(
        self, user: str, groups: list[Group], names: list[str] | None = None
    ) -> tuple[list[Group], list[Group]]:
        """``(groups, the same with each name counted once)``, re-read while a race moves under us.

        Duplicates are looked up after the aggregate; if a racer archived (or added) a copy in
        between, the lookup does not explain the aggregate any more and both are read again.
        """
        for _ in range(4):
            if not has_duplicates(groups):
                return groups, groups
            deduped = dedupe(groups, self._duplicates(user, groups))
            if all(g.n == g.names for g in deduped):
                return groups, deduped
            time.sleep(self._jitter(self._name_wait()))
            groups, _ = self._read_groups(user, names)
        raise LedgerUnavailable(
            f"the ledger is busy: duplicates of {user!r} kept moving while being read; try again", reason="contention"
        )

    # -- views and the per-process cache ----------------------------------------------------
    def _fresh_view(self, user: str) -> _View:
        groups, _ = self._read_groups(user)
        return self._view_of(user, groups)

    def _view_of(self, user: str, groups: list[Group]) -> _View:
        groups, deduped = self._settled(user, groups)
        return _View(user, groups, account_from_groups(user, deduped))

    def _account_of(self, user: str, groups: list[Group]) -> Account:
        return account_from_groups(user, self._settled(user, groups)[1])

    def _remember(self, view: _View) -> None:
        if self.cache_s > 0:
            with self._lock:
                self._cache[view.user] = _View(view.user, view.groups, view.account)

    def _contend(self, user: str) -> None:
        """Another writer touched ``user``: read fresh views for it for the next ``cache_s``."""
        with self._lock:
            self._contended[user] = time.monotonic() + self.cache_s

    def _cached(self, user: str) -> _View | None:
        now = time.monotonic()
        with self._lock:
            view = self._cache.get(user)
            if self._contended.get(user, 0) > now:
                return None
            self._contended.pop(user, None)
        if view is None or now - view.at > self.cache_s:
            return None
        return _View(view.user, view.groups, view.account, cached=True, at=view.at)

    @contextlib.contextmanager
    def _claim(self, user: str) -> Iterator[bool]:
        """Count this thread's transaction on ``user``; True when it is the only one here."""
        with self._lock:
            before = self._inflight.get(user, 0)
            self._inflight[user] = before + 1
        try:
            yield before == 0
        finally:
            with self._lock:
                left = self._inflight[user] - 1
                if left:
                    self._inflight[user] = left
                else:
                    del self._inflight[user]

    def _forget_finds(self) -> None:
        finds = getattr(self._local, "finds", None)
        if finds:
            finds.clear()

    def _recent_find(self, name: str) -> tuple[Row | None] | None:
        finds = getattr(self._local, "finds", None) or {}
        hit = finds.get(name)
        if hit is None or time.monotonic() - hit[1] > _FIND_TTL_S:
            return None
        return (hit[0],)

    # -- helpers ----------------------------------------------------------------------------
    def _jitter(self, seconds: float) -> float:
        return seconds * (0.5 + self._rng.random())

    def _name_wait(self) -> float:
        return 2 * self._client.rtt + 0.005

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, base·2^attempt], base ≈ a few round trips, capped at 0.5 s."""
        base = 4 * self._client.rtt + 0.004
        return self._rng.uniform(0, min(0.5, base * 2 ** min(attempt, 8)))

    def _unavailable(self, exc: BaseException | None) -> LedgerUnavailable:
        if isinstance(exc, OdooError):
            if exc.status == 401 or exc.session_invalid:
                reason = "Odoo refused the API key (revoked?)"
            else:
                reason = f"Odoo refused the request ({self._client.scrub(exc.short)})"
        elif isinstance(exc, OdooTransportError):
            reason = self._client.scrub(exc.message)
        else:
            reason = "Odoo did not answer"
        return LedgerUnavailable(f"the Odoo ledger is unavailable: {reason}", reason=reason)


def _money(rows: list[Row]) -> list[tuple[str, str, int, int]]:
    """What rows do to balances (names, kinds, amounts), without their answers."""
    return [(r.name, r.kind, r.delta, r.included_delta) for r in rows]


def _domain(where: RowFilter) -> list[Any]:
    domain: list[Any] = []
    if where.user_id:
        domain.append(["partner_name", "=", where.user_id])
    if where.kinds:
        domain.append(["referred", "in", list(where.kinds)])
    if where.since:
        domain.append(["function", ">=", ts(where.since)])
    if where.until:
        domain.append(["function", "<", ts(where.until)])
    return domain + LEDGER_DOMAIN


def _major(info: Any) -> int | None:
    if isinstance(info, dict):
        version = info.get("server_version_info") or info.get("version_info")
        if isinstance(version, list) and version and isinstance(version[0], int):
            return version[0]
    return None
