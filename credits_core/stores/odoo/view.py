"""The account a decision is taken on: aggregate reads, judged (canonical) views, the per-process copy.

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

A view is this process's copy of the account (verified by its last write,
less than ``cache_s`` ago, no other writer seen lately), else the newest
rows of the user judged one by one (``fold.py``) on top of the aggregate of
the older ones (settled: a rejected row is withdrawn by whoever judges it
first).

``find`` answers the lowest active row of a name whose verdict is accepted,
judging it (after the gap check) when this process has not yet. A 402 and
decisions taken on a copy are confirmed on a re-read before they are
returned. ``account`` is one aggregate read, judged row by row when it shows
a duplicate name or a negative bucket (a write being withdrawn).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ...errors import LedgerUnavailable
from ...models import Account, Row
from .calls import OdooCalls
from .fold import Rec, fold
from .rows import (
    AGGREGATES,
    LEDGER_DOMAIN,
    READ_FIELDS,
    Group,
    account_from_groups,
    add_rows,
    dedupe,
    fingerprint,
    from_record,
    has_duplicates,
    to_group,
)

_FIND_TTL_S = 2.0
_TAIL = 32  # newest rows of a user judged one by one; older ones are settled
_GAP_SPAN = 2000  # ids under a new row checked for a transaction still in flight


@dataclass
class View:
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


class OdooViews(OdooCalls):
    """Views of one user's account (a layer of :class:`~.store.OdooStore`, which sets this state)."""

    cache_s: float
    gap_wait_s: float
    _hi: int | None  # every crm.lead id up to here is visible or a gap for good
    _settled_ids: dict[str, int]  # per user: active rows up to this id are all accepted
    _cache: dict[str, View]
    _contended: dict[str, float]
    _local: threading.local

    # -- aggregates ---------------------------------------------------------------------------
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
    def _fresh_view(self, user: str) -> View:
        """One aggregate read; judged row by row (``_proper_view``) when it shows a duplicate or a negative
        bucket (a write being withdrawn). Not a base for writes: a row being withdrawn for a stale base
        can hide in it for a moment."""
        groups, _ = self._read_groups(user)
        acc = account_from_groups(user, groups)
        if has_duplicates(groups) or acc.balance.included < 0 or acc.balance.purchased < 0:
            return self._proper_view(user)
        return View(user, groups, acc)

    def _account_of(self, user: str, groups: list[Group]) -> Account:
        return account_from_groups(user, self._settled(user, groups)[1])

    def _remember(self, view: View) -> None:
        if self.cache_s > 0:
            with self._lock:
                self._cache[view.user] = View(view.user, view.groups, view.account)

    def _contend(self, user: str) -> None:
        """Another writer touched ``user``: read fresh views for it for the next ``cache_s``."""
        with self._lock:
            self._contended[user] = time.monotonic() + self.cache_s

    def _cached(self, user: str) -> View | None:
        now = time.monotonic()
        with self._lock:
            view = self._cache.get(user)
            if self._contended.get(user, 0) > now:
                return None
            self._contended.pop(user, None)
        if view is None or now - view.at > self.cache_s:
            return None
        return View(view.user, view.groups, view.account, cached=True, at=view.at)

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
        view = View(user, add_rows(prefix, kept), judged.account)
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

    def _find(self, name: str) -> Row | None:
        """The accepted row of that name: the lowest active id, once its fate is decided (``_decided``)."""
        for rec in self._read("search_read", domain=[["name", "=", name]], fields=READ_FIELDS, order="id asc"):
            if self._decided(rec):
                return from_record(rec)
        return None
