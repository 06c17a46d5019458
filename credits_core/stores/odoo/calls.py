"""The store's Odoo calls: one failure policy over :class:`~.client.OdooClient` (which never retries).

Failures: reads are retried (``retries``, jittered); a ``create`` only when
the connection never opened; archive writes are idempotent and retried
(left-overs are retried by this process's next transaction). Anything else:
``LedgerUnavailable`` with a short reason (no Odoo traceback, no key).

Also the request shapes the other layers share: ``search_read`` of whole rows,
records by name, and grouped aggregates on either protocol.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping
from typing import Any

from ...errors import LedgerUnavailable
from ...models import Row
from .client import OdooClient, OdooError, OdooTransportError
from .rows import READ_FIELDS, from_record

# No chatter message, follower or tracking value per ledger row (mail.thread context keys).
WRITE_CONTEXT = {
    "tracking_disable": True,
    "mail_create_nolog": True,
    "mail_create_nosubscribe": True,
    "mail_notrack": True,
}


class OdooCalls:
    """Retried ``crm.lead`` calls; the bottom layer of :class:`~.store.OdooStore`, which sets this state."""

    protocol: str
    retries: int
    _client: OdooClient
    _lock: threading.Lock
    _pending_archive: set[int]
    _rng: random.Random

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

    # -- helpers ----------------------------------------------------------------------------
    def _jitter(self, seconds: float) -> float:
        return seconds * (0.5 + self._rng.random())

    def _name_wait(self) -> float:
        return 2 * self._client.rtt + 0.005

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
