"""``OdooStore``: the ledger in Odoo ``crm.lead``, composed of this package's layers.

Its state (the client, the per-process copy, the striped writer locks, ``_hi``)
is set up here and checked against the server (``startup.py``) before the
store is returned; the behaviour is in the layers it inherits: ``commit.py``
(``transact``) and ``reads.py`` (the reads of the store protocol), both on
``view.py`` (views of an account), on ``calls.py`` (requests and failures).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from typing import Any

from ...config import ODOO_PROTOCOLS, OdooSettings, load_odoo_settings
from ...errors import ConfigError
from .client import OdooClient
from .commit import OdooCommit
from .reads import OdooLedgerReads
from .startup import check_server
from .view import View


class OdooStore(OdooCommit, OdooLedgerReads):
    """The ledger in Odoo ``crm.lead`` (see the package docstring)."""

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
        if protocol not in ODOO_PROTOCOLS:
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
        self._cache: dict[str, View] = {}
        self._stripes = [threading.Lock() for _ in range(64)]  # one writer per user in this process
        self._contended: dict[str, float] = {}
        self._pending_archive: set[int] = set()
        self._local = threading.local()
        self._rng = random.Random()
        try:
            self._hi = check_server(self._client, self.protocol)
        except BaseException:
            self._client.close()
            raise

    @classmethod
    def from_settings(cls, odoo: OdooSettings, **options: Any) -> OdooStore:
        """Build from the ``ODOO_*`` settings (``credits_core.config``)."""
        return cls(odoo.url, odoo.db, odoo.username, odoo.api_key, protocol=odoo.protocol, **options)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **options: Any) -> OdooStore:
        """Build from ``ODOO_*`` variables; missing or wrong ones → ``ConfigError`` naming them."""
        return cls.from_settings(load_odoo_settings(environ), **options)

    def close(self) -> None:
        self._client.close()
