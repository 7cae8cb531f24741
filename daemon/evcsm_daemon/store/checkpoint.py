"""Checkpoints of a SQLite write-ahead log, from a connection and a thread of their own.

A write on a write-ahead log appends pages to the log; a checkpoint copies them back into the
database file and syncs it, and once every page is copied the next write starts the log over.
By default the connection that writes runs one inside whichever COMMIT takes the log past 1,000
pages: a start, a stop or a slice of a flush that happens to be that commit holds the store's
thread for the copy and the sync (3-12 ms at the median, up to 37 ms on a busy machine, with
100,000 sessions), and every call queued behind it waits too. So the store's connection never checkpoints
(`PRAGMA wal_autocheckpoint = 0`), and this one does, on its own thread, while the store's
thread goes on writing:

- **PASSIVE**: it copies what is in the log when it starts, never takes the write lock and never
  waits for a reader; a write meanwhile appends after it, and then the log cannot start over
  until a later checkpoint has copied that too. So the store asks for one (`poke`) when its
  thread has just finished writing, after a flush or after a start or a stop outside a flush,
  and one runs if none ran for `every_s`: the log holds about that long's writes (~650 pages
  with 1,000 charging, ~2,500 with 10,000, against SQLite's 1,000), and a page that every flush
  rewrites is copied into the file once per checkpoint, not once per flush.
- **The bound**: a log that keeps going on without ever being started over (a write always
  landing during the checkpoint, or a reader that keeps an old snapshot) would grow without
  limit. When the log holds more than `limit_pages` and the PASSIVE checkpoint copied all of it,
  a RESTART follows: it has the next write start the log over. It holds the write lock while it
  waits for a write under way and for readers, at most `restart_wait_ms`; if it gives up, the next
  RESTART waits until the log has doubled, so a long reader (a backup) costs the writes a few
  waits, not one a tick. When the PASSIVE checkpoint could not copy it all, a reader holds an
  old snapshot: no RESTART could succeed before it ends, and none is tried.
- **Failures** change nothing that was committed: a checkpoint copies pages that are already
  durable in the log, and one cut off (busy, an I/O error, a kill) leaves them there for the
  next. It is logged once when it starts failing and once when it works again.

Durability is the log's: a commit is on disk when the store's COMMIT returns, checkpoint or not.
"""

import contextlib
import logging
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

log = logging.getLogger(__name__)

EVERY_S = 5.0
"""At most one checkpoint in this long."""
LIMIT_PAGES = 4096
"""A log of more pages (16 MiB of 4 KiB pages) after a PASSIVE checkpoint is restarted."""
RESTART_WAIT_MS = 20
"""How long a RESTART waits for the write lock and for readers: writes wait meanwhile."""


class Checkpointer:
    """Checkpoints the write-ahead log of the database at `path` from its own connection."""

    def __init__(
        self,
        path: Path,
        *,
        every_s: float = EVERY_S,
        limit_pages: int = LIMIT_PAGES,
        restart_wait_ms: int = RESTART_WAIT_MS,
    ) -> None:
        self.path = path
        self._every_s = every_s
        self._limit_pages = limit_pages
        self._restart_wait_ms = restart_wait_ms
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evcsm-checkpoint")
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._queued = False
        self._closing = threading.Event()
        self._last = -float("inf")
        self._failing = False
        self._restart_above = limit_pages
        self.runs = 0
        """Checkpoints run (PASSIVE, each with its RESTART if any)."""
        self.restarts = 0
        """RESTART checkpoints run because the log passed `limit_pages`."""
        self.last: tuple[int, int, int] | None = None
        """The last checkpoint's (busy, pages in the log, pages copied), as SQLite reports it."""

    def poke(self) -> None:
        """Something was written: checkpoint now, unless one ran less than `every_s` ago.
        Cheap and safe from any thread; pokes while a checkpoint waits to run are one."""
        with self._lock:
            if self._queued or self._closing.is_set():
                return
            if time.monotonic() - self._last < self._every_s:
                return  # a later poke's checkpoint copies it
            self._queued = True
        with contextlib.suppress(RuntimeError):  # closed meanwhile: nothing more to do
            self._thread.submit(self._run)

    def close(self) -> None:
        """Wait for a checkpoint running, run no other, close the connection. Blocks."""
        self._closing.set()
        self._thread.shutdown(wait=True, cancel_futures=True)
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run(self) -> None:
        with self._lock:
            self._queued = False  # a poke from now on asks for another round after this one
            self._last = time.monotonic()
        try:
            self._checkpoint()
        except sqlite3.Error as exc:
            if not self._failing:
                log.warning("checkpoint of %s failed, the log keeps its pages: %s", self.path, exc)
            self._failing = True
            return
        if self._failing:
            log.info("checkpoint of %s works again", self.path)
        self._failing = False

    def _checkpoint(self) -> None:
        conn = self._connection()
        self.runs += 1
        self.last = _, pages, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if pages <= self._limit_pages:
            self._restart_above = self._limit_pages
            return
        if copied < pages:
            raise sqlite3.OperationalError(
                f"the log holds {pages} pages, {pages - copied} of them behind a reader's snapshot"
            )
        if pages <= self._restart_above:
            return
        self.restarts += 1
        self.last = busy, pages, _ = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        if busy:
            self._restart_above = 2 * pages
            raise sqlite3.OperationalError(
                f"the log holds {pages} pages and a reader or a writer kept it from starting"
                f" over within {self._restart_wait_ms} ms"
            )
        self._restart_above = self._limit_pages

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(
                self.path,
                timeout=self._restart_wait_ms / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            try:
                conn.execute("PRAGMA synchronous = FULL")  # the database file synced after a copy
            except sqlite3.Error:
                conn.close()
                raise
            self._conn = conn
        return self._conn
