"""SQLite backend that queues writers instead of letting them spin.

SQLite allows one writer. With several server processes, a writer that finds
the database locked sleeps in SQLite's busy handler (1, 2, 5 … 100 ms steps),
which turns a 2 ms transaction into tail latencies of a second. Here every
write transaction first takes a process-shared advisory lock (a thread lock,
then ``flock`` on a file beside the database), so waiting writers are woken
the moment the previous one commits. Measured in bench/ingest.py.

A write statement run outside any transaction (``QuerySet.update()`` under
autocommit, e.g. an API token's once-a-minute "last used" touch) is its own
implicit transaction and never passes through ``BEGIN``: it takes the same lock
around the statement, or it would poll SQLite's busy handler while queued
writers hand the lock to each other, and could lose for a second or more.
"""

from __future__ import annotations

import fcntl
import functools
import os
import threading

from django.db.backends.sqlite3 import base

from . import checkpoint

_thread_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


class _WriteLock:
    def __init__(self, db_path: str):
        with _guard:
            self.thread_lock = _thread_locks.setdefault(db_path, threading.Lock())
        self.path = db_path + ".writelock"
        self.fd: int | None = None

    def acquire(self) -> None:
        self.thread_lock.acquire()
        try:
            if self.fd is None:
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            self.thread_lock.release()
            raise

    def release(self) -> None:
        try:
            if self.fd is not None:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            self.thread_lock.release()

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE")


@functools.lru_cache(maxsize=128)
def _qmark(query: str) -> str:
    return base.FORMAT_QMARK_REGEX.sub("?", query).replace("%%", "%")


class _QueuedCursor(base.SQLiteCursorWrapper):
    """Django's cursor, queueing autocommit writes for the lock (see the module)."""

    wrapper: DatabaseWrapper

    def convert_query(self, query, *, param_names=None):
        # Django rewrites ``%s`` to ``?`` with a regex on every execute: for a 500-row
        # INSERT that is a 100 kB scan per statement, 3 % of a bulk ingest. The same
        # statements come back all the time (they are built from cached plans).
        if param_names is None:
            return _qmark(query)
        return super().convert_query(query, param_names=param_names)

    def _lock_for(self, query: str) -> _WriteLock | None:
        if self.wrapper._holding or self.connection.in_transaction:
            return None  # inside a transaction: whoever began it holds what it needs
        if not query.lstrip()[:7].upper().startswith(_WRITE_VERBS):
            return None
        lock = self.wrapper._lock()
        if lock is not None:
            lock.acquire()
        return lock

    def execute(self, query, params=None):
        lock = self._lock_for(query)
        if lock is None:
            return super().execute(query, params)
        try:
            return super().execute(query, params)
        finally:
            lock.release()
            self.wrapper._wrote()

    def executemany(self, query, param_list):
        lock = self._lock_for(query)
        if lock is None:
            return super().executemany(query, param_list)
        try:
            return super().executemany(query, param_list)
        finally:
            lock.release()
            self.wrapper._wrote()


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._write_lock: _WriteLock | None = None
        self._holding = False
        self._checkpointer: checkpoint._Checkpointer | None = None

    def get_new_connection(self, conn_params):
        conn = super().get_new_connection(conn_params)
        name = str(self.settings_dict["NAME"])
        if not self.is_in_memory_db() and name:
            self._checkpointer = checkpoint.prepare(conn, name)
        return conn

    def _lock(self) -> _WriteLock | None:
        name = str(self.settings_dict["NAME"])
        if self.is_in_memory_db() or not name:
            return None
        if self._write_lock is None or self._write_lock.path != name + ".writelock":
            self._write_lock = _WriteLock(name)
        return self._write_lock

    def create_cursor(self, name=None):
        cursor = self.connection.cursor(factory=_QueuedCursor)
        cursor.wrapper = self
        return cursor

    def _start_transaction_under_autocommit(self):
        lock = self._lock()
        if lock is not None and not self._holding:
            lock.acquire()
            self._holding = True
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self._holding and self._write_lock is not None:
            self._holding = False
            self._write_lock.release()

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._release()
            self._wrote()

    def _wrote(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.writes += 1

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release()
            if self._write_lock is not None:
                self._write_lock.close()
                self._write_lock = None
