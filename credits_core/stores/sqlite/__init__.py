"""Embedded SQLite store: the default ledger of server mode.

WAL journal, ``synchronous=FULL`` (an acknowledged credit survives power
loss, not only a crash), UNIQUE row names, and every mutation in one
``BEGIN IMMEDIATE`` transaction that also updates the user's derived
account, so readers never scan history and several processes can share the
file (SQLite's write lock serialises them; ``busy_timeout`` waits).
One connection per thread.

Modules: ``schema.py`` (DDL, pragmas, migrations, how rows map onto
columns), ``reads.py`` (account, tail, snapshot, row queries),
``group_commit.py`` (a batch of decisions in one transaction, failing
together), ``async_commit.py`` (the asyncio-native group commit),
``errors.py`` (sqlite3 errors → engine errors) and ``store.py``
(:class:`SqliteStore`, which ties them together).
"""

from __future__ import annotations

from .store import SqliteStore

__all__ = ["SqliteStore"]
