"""The embedded job queue: Huey's SQLite storage with the database's own durability.

Huey's SQLite storage leaves ``synchronous=FULL``, so every enqueue waits for
an fsync (about 4 ms here, on every ingested message). Warmline's database
runs WAL with ``synchronous=NORMAL`` (a commit survives a crash of the
process; power loss may drop the last transactions, never corrupt); the
queue gets the same guarantee, which keeps the enqueue at about 0.1 ms
(bench/ingest.py). Scale-out uses Redis instead (``REDIS_URL``).
"""

from __future__ import annotations

import huey
from huey.storage import SqliteStorage as _SqliteStorage


class SqliteStorage(_SqliteStorage):
    def _create_connection(self):
        conn = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        return conn


class SqliteHuey(huey.SqliteHuey):
    storage_class = SqliteStorage
