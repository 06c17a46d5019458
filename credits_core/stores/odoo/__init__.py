"""Odoo store (``CZ_LEDGER=odoo``): the ledger as ``crm.lead`` records, over JSON-RPC or JSON-2.

One concern per module; each imports only modules listed before it:

* ``client.py`` — one HTTP client for both external APIs, their error
  envelopes (never retries; no traceback or key in a message);
* ``rows.py`` — ledger rows ⇄ ``crm.lead`` records and accounts from one
  aggregate (pure; the README copies its field table);
* ``fold.py`` — the verdict of every row, a pure function of the active rows
  below it (the rule every process applies alike);
* ``startup.py`` — ``ODOO_*`` configuration and the start-up check;
* ``calls.py`` — the store's requests and its failure policy: retried reads,
  a ``create`` sent once, idempotent archives, ``LedgerUnavailable``;
* ``view.py`` — the account a decision is taken on: aggregate reads, judged
  views, the per-process copy, lower ids still in flight;
* ``commit.py`` — ``transact``: decide, create, verify, compensate;
* ``reads.py`` — the reads of the store protocol (tails, totals, exports);
* ``store.py`` — :class:`OdooStore`, composing the layers above.
"""

from __future__ import annotations

from .client import OdooClient, OdooError, OdooTransportError
from .fold import Fold, Rec, base_of, fold
from .rows import RowShapeError, from_record, to_vals
from .store import OdooStore

__all__ = [
    "Fold",
    "OdooClient",
    "OdooError",
    "OdooStore",
    "OdooTransportError",
    "Rec",
    "RowShapeError",
    "base_of",
    "fold",
    "from_record",
    "to_vals",
]
