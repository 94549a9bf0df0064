"""The embedded job queue: Huey's SQLite storage with the database's own durability.

Huey's SQLite storage leaves ``synchronous=FULL``, so every enqueue waits for
an fsync (about 4 ms here, on every ingested message). Warmline's database
runs WAL with ``synchronous=NORMAL`` (a commit survives a crash of the
process; power loss may drop the last transactions, never corrupt); the
queue gets the same guarantee, which keeps the enqueue at about 0.1 ms
(bench/ingest.py). Scale-out uses Redis instead (``REDIS_URL``).

Writers queue for the file the way the main database's do
(``warmline.db.sqlite3``): every server thread enqueues, and SQLite's busy
handler polls (sleeps of up to 100 ms) instead of queueing, which put a
one-second tail on ingest. A ``flock`` beside the file wakes the next writer the
moment the previous one commits, and WAL checkpoints run in a background thread
(``warmline.db.sqlite3.checkpoint``), not inside an enqueue.
"""

from __future__ import annotations

import contextlib

import huey
from huey.storage import SqliteStorage as _SqliteStorage

from warmline.db.sqlite3 import checkpoint
from warmline.db.sqlite3.base import _WriteLock


class SqliteStorage(_SqliteStorage):
    def _create_connection(self):
        conn = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        self._checkpointer = checkpoint.prepare(conn, str(self.filename))
        return conn

    @contextlib.contextmanager
    def db(self, commit=False, close=False):
        if not commit:
            with super().db(commit=False, close=close) as cursor:
                yield cursor
            return
        lock = getattr(self, "_write_lock", None)
        if lock is None:
            lock = self._write_lock = _WriteLock(str(self.filename))
        lock.acquire()
        try:
            with super().db(commit=True, close=close) as cursor:
                yield cursor
        finally:
            lock.release()
            cp = getattr(self, "_checkpointer", None)
            if cp is not None:
                cp.writes += 1


class SqliteHuey(huey.SqliteHuey):
    storage_class = SqliteStorage
