"""WAL checkpoints in a background thread, not in the writer that happens to commit.

SQLite's default copies the write-ahead log back into the database file (and
fsyncs it) inside the commit that pushes the log past 1,000 pages: with one
writer at a time that commit, and every writer queued behind it, waits for the
copy. Measured on ingest (bench/ingest.py, 1.2M entries): about 0.3–0.5 ms per
message on average and most of the in-process p99 (14 ms → 6 ms without it).

Here each process that writes a database file runs one daemon thread that
checkpoints it PASSIVEly (never blocking readers or writers) four times a second
while it writes. Connections keep an automatic checkpoint as a safety net, at a size the
thread normally never lets the log reach.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time

log = logging.getLogger(__name__)

# Seconds between checkpoints while the process writes. Each checkpoint ends with an
# fsync that stalls the writers queued meanwhile, so smaller, more frequent ones
# keep the tail short: ingest p99 at saturation (bench/ingest.py, granian 2x1,
# 15 s runs) was 94 ms at 5 s, 60-66 ms at 1 s, 50-55 ms at 0.5 s, 41-48 ms at
# 0.25 s; at 0.1 s one run lost 40 % of its throughput to the extra fsyncs.
INTERVAL = 0.25
SAFETY_NET_PAGES = 20_000  # ~80 MB of log before a committing writer checkpoints itself


class _Checkpointer:
    def __init__(self, path: str) -> None:
        self.path = path
        self.pid = os.getpid()
        self.writes = 0  # commits seen in this process (approximate: no lock needed)
        self.done = 0  # `writes` at the start of the last checkpoint
        self.last: tuple[int, int, int] | None = None  # (busy, log pages, checkpointed)
        self.runs = 0
        self.thread = threading.Thread(
            target=self._run, name=f"wal-checkpoint:{os.path.basename(path)}", daemon=True
        )
        self.thread.start()

    def _run(self) -> None:
        conn = None
        while True:
            time.sleep(INTERVAL)
            if self.writes == self.done:
                continue
            self.done = self.writes
            try:
                if conn is None:
                    conn = sqlite3.connect(self.path, timeout=5, isolation_level=None)
                self.last = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                self.runs += 1
            except sqlite3.Error:
                log.warning("WAL checkpoint of %s failed; retrying", self.path, exc_info=True)
                if conn is not None:
                    conn.close()
                conn = None


_checkpointers: dict[str, _Checkpointer] = {}
_guard = threading.Lock()


def for_path(path: str) -> _Checkpointer:
    """This process's checkpointer for ``path`` (started on first use, again after fork)."""
    cp = _checkpointers.get(path)
    if cp is None or cp.pid != os.getpid():
        with _guard:
            cp = _checkpointers.get(path)
            if cp is None or cp.pid != os.getpid():
                cp = _checkpointers[path] = _Checkpointer(path)
    return cp


def prepare(conn: sqlite3.Connection, path: str) -> _Checkpointer:
    """Hand a new connection's checkpoints to the background thread."""
    conn.execute(f"PRAGMA wal_autocheckpoint={SAFETY_NET_PAGES}")
    return for_path(path)
