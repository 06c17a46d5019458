"""Odoo store: the ledger as ``crm.lead`` records, over JSON-RPC or JSON-2.

Configuration (:meth:`OdooStore.from_env`): ``ODOO_URL``, ``ODOO_DB``,
``ODOO_USERNAME``, ``ODOO_API_KEY``, ``ODOO_PROTOCOL`` = ``jsonrpc`` (default)
or ``json2``. The constructor checks server, database and key
(``common.version`` + ``common.authenticate`` for jsonrpc, ``/web/version``
for json2, then one authenticated ``fields_get`` of the fields used) and
raises ``ConfigError`` naming the variable; the key is never in a message.
JSON-2 identifies the user by the key alone (``ODOO_USERNAME`` is only
checked by jsonrpc).

Row ↔ field mapping and the one-aggregate account: ``rows.py`` (the
README copies its table). Transport and error envelopes: ``client.py``.

Concurrency — ``crm.lead`` has no unique constraint, so *write, verify,
compensate*, with one rule every process applies alike (``fold.py``):
**the verdict of a write is a function of the active rows with lower ids**.
Folding a user's active rows in id order, a write (the rows of one
``create``) is rejected if a lower accepted id holds one of its names, if the
account it was decided on (``base``, stored beside the rows) is not the one
the accepted rows before it add up to, or if it takes a bucket it draws from
below zero (a write that only adds credits never can). So an accepted row's
``balanceAfter`` and bucket split are the ledger's, and first answers and
replays agree byte for byte, from any process.

*Lower ids not visible yet*: Odoo draws an id when it inserts and shows the
row when it commits, so a lower id can appear after a higher one. Rule: no
process answers from a row (its own, or a replay) before every id below it
is visible or has been missing for ``gap_wait_s`` (a failed create, a
deleted lead: a gap for good). Each process keeps ``_hi``, the id up to which
it has checked this; a row above it is answered only after one ``search`` of
the ids in between and, while one is missing, polls until it appears or
``gap_wait_s`` passes. Known limit: a create that commits more than
``gap_wait_s`` after drawing its id (Odoo stalled inside the request) can
still overrule an answer given in the meantime; Odoo's ``limit_time_real``
bounds it, and ``gap_wait_s`` at least that long closes it.

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
3. **Verify**: wait for lower ids in flight (above), then re-read the
   aggregate (plus rows of other users with our names). If it is the view
   plus exactly our rows, nothing joined or left: accepted — three requests
   for a warm debit. Otherwise fold the newest rows: our verdict; every
   rejected row met is archived (``write(ids, {"active": False})``).
4. A rejected write is archived and ``decide`` runs again on the fold's
   canonical view after a jittered, growing back-off (bounded attempts, then
   ``LedgerUnavailable``): the loser of a name finds the winner's row
   (replay of the first answer, or ``idempotency_conflict``); a stale or
   overdrawing write is decided again (→ success with exact answers or 402).

``find`` answers the lowest active row of a name whose verdict is accepted,
judging it (after the gap check) when this process has not yet. A 402 and
decisions taken on a copy are confirmed on a re-read before they are
returned. ``account`` is one aggregate read, judged row by row when it shows
a duplicate name or a negative bucket (a write being withdrawn).

Known limits (README): if Odoo vanishes between ``create`` and the verify
the rows stay and a retry with the same key finds them (judged like any
other); a request Odoo still executes after the client gave up can commit
late (the lookup after a lost answer checks twice; then the gap rule); the
newest ``_TAIL`` rows of a user are judged one by one and older active rows
are taken as accepted. ``cache_s=0`` turns the copy off.

Failures: reads are retried (``retries``, jittered); a ``create`` only when
the connection never opened; archive writes are idempotent and retried
(left-overs are retried by this process's next transaction). Anything else:
``LedgerUnavailable`` with a short reason (no Odoo traceback, no key).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlparse

from ...errors import ConfigError, CreditsError, InsufficientCredits, LedgerUnavailable, StateConflict
from ...models import Account, Row
from ...policy.ledger import Decision, Lookup
from ..base import DailyTotal, RowFilter, ToolUsage, append_all
from .client import OdooClient, OdooError, OdooTransportError
from .fold import Rec, base_of, fold
from .reads import OdooLedgerReads
from .rows import (
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
_TAIL = 32  # newest rows of a user judged one by one; older ones are settled
_GAP_SPAN = 2000  # ids under a new row checked for a transaction still in flight


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
        gap_wait_s: float = 2.0,
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
        self.gap_wait_s = float(gap_wait_s)
        self._hi: int | None = None  # every crm.lead id up to here is visible or a gap for good
        self._settled_ids: dict[str, int] = {}  # per user: active rows up to this id are all accepted
        self._client = OdooClient(
            url, db, username, api_key, protocol=protocol, timeout_s=timeout_s, transport=transport
        )
        self._lock = threading.Lock()
        self._cache: dict[str, _View] = {}
        self._stripes = [threading.Lock() for _ in range(64)]  # one writer per user in this process
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
            newest = self._client.call("search", domain=[], order="id desc", limit=1, context={"active_test": False})
            self._hi = int(newest[0]) if newest else 0  # ids below: settled (gaps at start-up are for good)
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
        return self._fresh_view(user_id).account

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

    def _precheck(self, user_id: str, view: _View, rows: list[Row], lookup: _Lookup) -> None:
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

    def _write(self, view: _View, rows: list[Row]) -> _Outcome:
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
            self._remember(_View(user, groups, view.account.with_rows(rows)))
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

    def _judge(self, user: str, ids: set[int], names: list[str]) -> tuple[_View, str]:
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

    def _confirm(self, view: _View, *, settle: bool = False) -> _View | None:
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

    # -- canonical views, verdicts and lower ids still in flight -------------------------------
    def _proper_view(
        self, user: str, *, covering: int | None = None, names: list[str] = (), with_fold: bool = False
    ) -> Any:
        """The user's view with every row judged (``fold.py``): the newest rows one by one, the
        older ones (assumed settled: rejected rows are withdrawn by whoever judges them) summed.
        ``covering``: read back at least to that id. Returns the view (and the fold with ``with_fold``)."""
        limit = _TAIL
        while True:
            records = self._read(
                "search_read",
                domain=[["partner_name", "=", user], *LEDGER_DOMAIN],
                fields=READ_FIELDS,
                order="id desc",
                limit=limit,
            )
            recs = [Rec.of(r) for r in records]
            whole = len(recs) < limit
            if not whole:  # the oldest write may go on below the page: leave it to the settled prefix
                oldest = recs[-1].txn
                while recs and oldest is not None and recs[-1].txn == oldest:
                    recs.pop()
            if whole or (recs and (covering is None or recs[-1].id <= covering)):
                break
            limit *= 4
        prefix: list[Group] = []
        if not whole:
            prefix, _ = self._read_groups(user, below=recs[-1].id)
            prefix = self._settled(user, prefix)[1] if has_duplicates(prefix) else prefix
        holders = self._holders(user, {r.row.name for r in recs} | set(names), {r.id for r in recs})
        judged = fold(account_from_groups(user, prefix), recs, holders)
        kept = [(r.id, r.row) for r in sorted(recs, key=lambda r: r.id) if r.id in judged.accepted]
        view = _View(user, add_rows(prefix, kept), judged.account)
        if recs:
            self._settle_to(user, min(judged.rejected) - 1 if judged.rejected else recs[0].id)
        return (view, judged) if with_fold else view

    def _holders(self, user: str, names: set[str], tail: set[int]) -> dict[str, int]:
        """Lowest id of an active row outside ``tail`` holding each of ``names`` (any user)."""
        if not names:
            return {}
        out: dict[str, int] = {}
        for rec in self._named(sorted(names)):
            if rec["id"] not in tail:
                out[rec["name"]] = min(out.get(rec["name"], rec["id"]), rec["id"])
        return out

    def _await_below(self, top: int, mine: set[int] = frozenset()) -> bool:
        """Wait (up to ``gap_wait_s``) for ids under ``top`` that were drawn but are not visible yet.

        Odoo draws ids from a sequence before its transaction commits, so a lower id can appear after a
        higher one. True when such an id turned up while waiting (what was read before may miss it).
        """
        with self._lock:
            low = self._hi
        if low is None or top <= low + 1:
            self._raise_hi(max(top, *mine) if mine else top - 1)
            return False
        low = max(low, top - _GAP_SPAN)
        missing = set(range(low + 1, top)) - mine
        deadline = time.monotonic() + self.gap_wait_s
        late = False
        first = True
        while missing:
            found = self._read("search", domain=[["id", ">", low], ["id", "<", top]], context={"active_test": False})
            arrived = missing & set(found)
            late = late or (bool(arrived) and not first)
            missing -= arrived
            first = False
            if not missing or time.monotonic() >= deadline:
                break  # ids still missing now are gaps for good (a failed create, a deleted lead)
            time.sleep(self._jitter(self._name_wait()))
        self._raise_hi(max(top, *mine) if mine else top - 1)
        return late

    def _raise_hi(self, value: int) -> None:
        with self._lock:
            self._hi = max(self._hi or 0, value)

    def _settle_to(self, user: str, rid: int) -> None:
        """Every active row of ``user`` up to ``rid`` is accepted (judged, rejected ones withdrawn), as far
        as no lower id can still turn up (``_hi``)."""
        with self._lock:
            rid = min(rid, self._hi or 0)
            self._settled_ids[user] = max(self._settled_ids.get(user, 0), rid)

    def _decided(self, rec: dict[str, Any]) -> bool:
        """Is this record (the lowest active holder of its name) an accepted row? Judged when not known."""
        user = rec.get("partner_name") or ""
        with self._lock:
            known = self._settled_ids.get(user, 0) >= rec["id"]
        if known:
            return True
        self._await_below(rec["id"])
        _view, judged = self._proper_view(user, covering=rec["id"], with_fold=True)
        if judged.rejected:
            self._try_archive(list(judged.rejected))
        return judged.verdict(rec["id"]) == "accepted"

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
        """The accepted row of that name: the lowest active id, once its fate is decided (``_decided``)."""
        for rec in self._read("search_read", domain=[["name", "=", name]], fields=READ_FIELDS, order="id asc"):
            if self._decided(rec):
                return from_record(rec)
        return None

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

    def _read_groups(
        self, user: str, names: list[str] | None = None, *, below: int | None = None
    ) -> tuple[list[Group], list[Group]]:
        """The user's groups (of ids under ``below``), and (with ``names``) other users' rows carrying those names."""
        domain = [["partner_name", "=", user], *LEDGER_DOMAIN]
        if below is not None:
            domain.append(["id", "<", below])
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
        """One aggregate read; judged row by row (``_proper_view``) when it shows a duplicate or a negative
        bucket (a write being withdrawn). Not a base for writes: a row being withdrawn for a stale base
        can hide in it for a moment."""
        groups, _ = self._read_groups(user)
        acc = account_from_groups(user, groups)
        if has_duplicates(groups) or acc.balance.included < 0 or acc.balance.purchased < 0:
            return self._proper_view(user)
        return _View(user, groups, acc)

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
