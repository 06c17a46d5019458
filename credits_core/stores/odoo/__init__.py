"""Odoo store (``CZ_LEDGER=odoo``): the ledger as ``crm.lead`` records, over JSON-RPC or JSON-2.

``client.py`` (transport), ``rows.py`` (row ⇄ record mapping), ``fold.py``
(verdicts), ``reads.py`` (exports, Ops reads), ``store.py`` (``OdooStore``).
"""

from __future__ import annotations

from .client import OdooClient, OdooError, OdooTransportError
from .fold import Fold, Rec, base_of, fold
from .rows import RowShapeError, from_record, to_vals
from .store import ENV_VARS, PROTOCOLS, OdooStore

__all__ = [
    "ENV_VARS",
    "PROTOCOLS",
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
