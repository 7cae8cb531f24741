"""Sessions in a local SQLite file (`sqlite:PATH`): a durable store without a database server.

For a single machine without MongoDB (`./dev up`, a small site). The guarantees are the same as
MongoDB's, enforced by SQLite:

- a partial unique index, `(chargerId) WHERE status = 'Charging'`, allows one active session per
  charger, across daemons sharing the file too (each write is one `BEGIN IMMEDIATE` transaction);
- readings and stops raise the register with `MAX(...)` and touch only `Charging` rows;
- `sessionId` is unique, so a repeated insert finds the first and answers as it did;
- `transaction_id` is unique where set, and the `counters` table hands out new ones in one
  `INSERT ... ON CONFLICT DO UPDATE ... RETURNING` statement.

Schema version 2 added the OCPP columns and the counters; a version 1 file is upgraded in place
when it is opened (`ALTER TABLE ... ADD COLUMN`, nothing rewritten).

Durability: write-ahead log with `synchronous=FULL`, so every write is on disk (fsync'd) before
the call returns, and survives a kill -9 or a power cut. A readings flush is written in slices of
`FLUSH_SLICE`, each a transaction of its own; only the last one's commit syncs, which makes the
earlier ones durable too, so a flush costs one sync however many sessions it carries.

Checkpoints (copying the log back into the database file) never run on the store's connection,
so no start, stop or slice waits for one: a `Checkpointer` (`store.checkpoint`) runs them from a
connection and a thread of its own, after a flush or a start or a stop outside a flush, at most
once in 5 s, and keeps the log under a bound; `close()` copies the whole log into the file and
empties it.

SQLite is synchronous, so every call runs on one dedicated thread that owns the connection; the
event loop only waits for its answer. Calls queue for that thread in the order they come; a flush
queues one slice at a time, so a call that comes during a flush waits for one slice, not for all.
Errors are mapped in one place (`sqlite_errors`): a failed statement rolls its transaction back,
so it changed nothing (`StoreUnavailable`); only a failed `COMMIT` leaves the outcome unknown
(`WriteNotConfirmed`).
"""

import asyncio
import contextlib
import functools
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from evcsm_schema import ChargingSession, SessionPage, SessionQuery
from evcsm_schema.session import MAX_TRANSACTION_ID

from evcsm_daemon.errors import SessionNotFound, StoreUnavailable, WriteNotConfirmed
from evcsm_daemon.store import rows
from evcsm_daemon.store.checkpoint import Checkpointer
from evcsm_daemon.store.documents import with_id
from evcsm_daemon.store.group import GroupCommit
from evcsm_daemon.store.rows import CHARGING, COLUMNS, from_row, ms, to_row

T = TypeVar("T")
SCHEMA_VERSION = 2
OCPP_COLUMNS = (
    "transaction_id INTEGER",
    "charge_point_id TEXT",
    "connector_id INTEGER",
    "id_tag TEXT",
)
OCPP_VERSION = 2
"""The schema version that added OCPP_COLUMNS."""

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL UNIQUE,
    charger_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('Charging', 'Stopped')),
    start_ms INTEGER NOT NULL,
    end_ms INTEGER,
    energy_consumed REAL NOT NULL,
    meter_start_wh INTEGER NOT NULL,
    meter_wh INTEGER NOT NULL,
    power_kw REAL NOT NULL,
    stop_reason TEXT,
    updated_ms INTEGER NOT NULL,
    {", ".join(OCPP_COLUMNS)}
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS one_active_session_per_charger
    ON sessions (charger_id) WHERE status = '{CHARGING}';
CREATE INDEX IF NOT EXISTS charger_history ON sessions (charger_id, start_ms, id);
CREATE INDEX IF NOT EXISTS charger_status_history ON sessions (charger_id, status, start_ms, id);
CREATE INDEX IF NOT EXISTS status_history ON sessions (status, start_ms, id);
CREATE INDEX IF NOT EXISTS history ON sessions (start_ms, id);
CREATE UNIQUE INDEX IF NOT EXISTS transaction_id ON sessions (transaction_id)
    WHERE transaction_id IS NOT NULL;
PRAGMA user_version = {SCHEMA_VERSION};
"""
SELECT = f"SELECT {', '.join(COLUMNS)} FROM sessions"  # noqa: S608 - constant column names
STOP = (
    "UPDATE sessions SET status = ?, end_ms = ?, power_kw = 0.0, stop_reason = ?,"  # noqa: S608 - constant column names
    " updated_ms = MAX(updated_ms, ?), meter_wh = MAX(meter_wh, ?),"
    " energy_consumed = MAX(energy_consumed, ?) WHERE session_id = ? AND status = ?"
    " RETURNING " + ", ".join(COLUMNS)
)
"""A stop, answering with the stopped row (none when the session was no longer active)."""
NEWEST_FIRST = "ORDER BY start_ms DESC, id DESC"


def _insert(conn: sqlite3.Connection, session: ChargingSession) -> tuple[ChargingSession, bool]:
    """Insert `session` unless stored already or its charger has another active one."""
    mine = conn.execute(f"{SELECT} WHERE session_id = ?", (session.session_id,))
    if (row := mine.fetchone()) is not None:
        return from_row(row), True
    other = conn.execute(
        f"{SELECT} WHERE charger_id = ? AND status = ?", (session.charger_id, CHARGING)
    )
    if (row := other.fetchone()) is not None:
        return from_row(row), False
    if session.transaction_id is not None:
        taken = conn.execute(
            "SELECT 1 FROM sessions WHERE transaction_id = ?", (session.transaction_id,)
        )
        if taken.fetchone() is not None:
            raise sqlite3.IntegrityError(f"transaction id {session.transaction_id} is taken")
    stored = with_id(session)
    conn.execute(rows.INSERT, to_row(stored))
    return stored, True


def _mapped(outcome: T | Exception) -> T | Exception:
    """`outcome` with a sqlite3 error turned into the store's."""
    if not isinstance(outcome, sqlite3.Error):
        return outcome
    try:
        with sqlite_errors():
            raise outcome
    except StoreUnavailable as exc:
        return exc


class CommitFailed(Exception):
    """COMMIT itself failed: the transaction may or may not be on disk."""


def sqlite_path(uri: str) -> Path:
    """The file a `sqlite:` URI names: `sqlite:relative/path`, `sqlite:/abs` or `sqlite:///abs`."""
    rest = uri.partition(":")[2]
    if rest.startswith("//"):
        authority, _, path = rest[2:].partition("/")
        if authority:
            raise ValueError(f"{uri!r}: a sqlite: URI names a local file, not a host")
        rest = "/" + path
    if not rest or rest.endswith("/"):
        raise ValueError(f"{uri!r}: name the database file, e.g. sqlite:run/sessions.db")
    return Path(rest)


@contextlib.contextmanager
def sqlite_errors() -> Iterator[None]:
    """Turn sqlite3's exceptions into the store's: the one place that knows them."""
    try:
        yield
    except CommitFailed as exc:
        raise WriteNotConfirmed(f"database did not confirm the write: {exc.__cause__}") from exc
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"database unavailable: {exc}") from exc


class Connection(sqlite3.Connection):
    """The store's connection, remembering its `synchronous` level."""

    synchronous: str | None = None


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection, *, synced: bool = True) -> Iterator[None]:
    """One write transaction, taking the write lock up front; rolled back on any error.

    Its COMMIT waits for the disk (`synchronous = FULL`) unless `synced` is False (`NORMAL`:
    the log is written but not synced; the next synced commit syncs it, being one file). Every
    transaction has its own level, so none inherits another's; on the store's connection
    (`Connection`) the level is set only when it changes, since every statement is a hand-off
    of the GIL between the store's thread and the event loop.
    """
    level = "FULL" if synced else "NORMAL"
    if not isinstance(conn, Connection) or conn.synchronous != level:
        conn.execute(f"PRAGMA synchronous = {level}")
        if isinstance(conn, Connection):
            conn.synchronous = level
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise CommitFailed from exc


FLUSH_SLICE = 250
"""Readings per slice of a flush: one slice holds the store's thread ~1.3 ms at the median (p99
2-5 ms) with 1,000 or 10,000 charging among 100,000 sessions (`bench.flush`)."""
SAVE_READINGS = (
    "UPDATE sessions SET meter_wh = MAX(sessions.meter_wh, r.meter_wh),"
    " energy_consumed = MAX(sessions.energy_consumed, r.energy),"
    " power_kw = r.power, updated_ms = MAX(sessions.updated_ms, r.updated)"
    " FROM (SELECT json_extract(value, '$[0]') AS meter_wh,"
    " json_extract(value, '$[1]') AS energy, json_extract(value, '$[2]') AS power,"
    " json_extract(value, '$[3]') AS updated,"
    " json_extract(value, '$[4]') AS session_id FROM json_each(?)) AS r"
    " WHERE sessions.session_id = r.session_id AND +sessions.status = ?"
)
"""One tick's readings (a JSON array of [meterWh, energy, powerKw, updatedMs, sessionId]) into
the active sessions. The `+` keeps SQLite from reaching the rows through the status index: it
then walks the readings and finds each session by its unique `session_id`, O(n log N), where
through the status index it read the whole array once per active session, O(n²) (1,000 active
sessions took 0.8-1.3 s a flush, 10,000 would have taken minutes)."""


def _save_readings(conn: sqlite3.Connection, *, rows: str, synced: bool) -> None:
    """One slice of a flush (`rows`: a JSON array, see SAVE_READINGS) in one transaction."""
    with transaction(conn, synced=synced):
        conn.execute(SAVE_READINGS, (rows, CHARGING))


CLOSE_WAIT_MS = 200
"""How long closing waits for another connection (another daemon on the file) to let the log
be emptied: a stop ends within 10 s whatever the file's other users do."""


def _insertion_order(session: ChargingSession) -> str:
    """A session's place in the table: its `id`, an ObjectId, orders as the rows were made."""
    return session.id or ""


class SqliteStore:
    """Charging sessions in one SQLite file, served by a thread of its own."""

    kind = "SQLite"
    durable = True

    def __init__(
        self,
        path: Path,
        *,
        timeout_ms: int = 5000,
        flush_slice: int = FLUSH_SLICE,
        checkpoints: Checkpointer | None = None,
    ) -> None:
        self.path = path
        self._timeout_s = timeout_ms / 1000
        self._flush_slice = flush_slice
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evcsm-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._flushing = 0
        self.checkpoints = checkpoints or Checkpointer(path)
        """Runs the log's checkpoints: the store's connection never does (`store.checkpoint`)."""
        self._starts = GroupCommit(self._insert_batch, "sqlite-starts")

    async def _run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run `job` with the connection on the store's thread."""
        loop = asyncio.get_running_loop()
        with sqlite_errors():
            return await loop.run_in_executor(self._thread, self._with_connection, job)

    async def _write(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run `job`, a write, then tell the checkpointer, unless a flush is under way (it
        tells it when it is done: a checkpoint that starts while slices are written cannot let
        the log start over)."""
        done = await self._run(job)
        if not self._flushing:
            self.checkpoints.poke()
        return done

    def _with_connection(self, job: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            if not self.path.parent.is_dir():
                raise sqlite3.OperationalError(f"no folder {self.path.parent} for {self.path}")
            conn = sqlite3.connect(
                self.path,
                timeout=self._timeout_s,
                isolation_level=None,
                check_same_thread=False,
                factory=Connection,
            )
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
                conn.synchronous = "FULL"
                conn.execute("PRAGMA wal_autocheckpoint = 0")  # the checkpointer's work
            except sqlite3.Error:
                conn.close()
                raise
            self._conn = conn
        return job(self._conn)

    async def ensure_indexes(self) -> None:
        """Open the file, create the table and its indexes if missing."""

        def create(conn: sqlite3.Connection) -> None:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"{self.path} has schema version {version}, newer than this daemon's"
                )
            with transaction(conn):
                if 0 < version < OCPP_VERSION:
                    for column in OCPP_COLUMNS:
                        conn.execute(f"ALTER TABLE sessions ADD COLUMN {column}")
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)

        await self._write(create)

    async def close(self) -> None:
        """Stop the checkpoints, copy the whole log into the database file and empty it (unless
        another connection keeps it for longer than CLOSE_WAIT_MS), close the connection on its
        thread, then the thread."""
        await self._starts.close()

        def close(conn: sqlite3.Connection | None) -> None:
            self.checkpoints.close()
            if conn is not None:
                try:
                    conn.execute(f"PRAGMA busy_timeout = {CLOSE_WAIT_MS}")
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                finally:
                    conn.close()

        loop = asyncio.get_running_loop()
        with contextlib.suppress(sqlite3.Error, RuntimeError):
            await loop.run_in_executor(self._thread, close, self._conn)
        self._conn = None
        self._thread.shutdown(wait=False)

    async def ping(self) -> bool:
        """True when the file answers a query."""
        try:
            await self._run(lambda conn: conn.execute("SELECT 1").fetchone())
        except StoreUnavailable:
            return False
        return True

    async def insert_active(self, session: ChargingSession) -> tuple[ChargingSession, bool]:
        """Store a new active session, or return the charger's existing one. Starts that arrive
        while a commit is in flight are committed together (`store.group`)."""
        return await self._starts.submit(session)

    async def _insert_batch(
        self, sessions: Sequence[ChargingSession]
    ) -> list[tuple[ChargingSession, bool] | Exception]:
        """Insert `sessions` in one transaction, each in a savepoint of its own: one that fails
        changes nothing and gets its error; the others commit together."""

        def insert_all(conn: sqlite3.Connection) -> list[tuple[ChargingSession, bool] | Exception]:
            outcomes: list[tuple[ChargingSession, bool] | Exception] = []
            if len(sessions) == 1:  # its transaction is its savepoint: two statements fewer
                try:
                    with transaction(conn):
                        outcomes.append(_insert(conn, sessions[0]))
                except sqlite3.Error as exc:  # rolled back: nothing changed
                    outcomes.append(exc)
                return outcomes
            with transaction(conn):
                for session in sessions:
                    conn.execute("SAVEPOINT start")
                    try:
                        outcomes.append(_insert(conn, session))
                    except sqlite3.Error as exc:
                        conn.execute("ROLLBACK TO start")
                        outcomes.append(exc)
                    conn.execute("RELEASE start")
            return outcomes

        outcomes = await self._write(insert_all)
        return [_mapped(outcome) for outcome in outcomes]

    async def active(self, charger_id: str) -> ChargingSession | None:
        """The charger's active session, if any."""
        return await self._one(
            f"{SELECT} WHERE charger_id = ? AND status = ?", charger_id, CHARGING
        )

    async def all_active(self) -> list[ChargingSession]:
        """Every active session."""
        return await self._all(f"{SELECT} WHERE status = ?", CHARGING)

    async def latest(self, charger_id: str) -> ChargingSession | None:
        """The charger's most recent session, active or not."""
        return await self._one(f"{SELECT} WHERE charger_id = ? {NEWEST_FIRST} LIMIT 1", charger_id)

    async def by_transaction(self, transaction_id: int) -> ChargingSession | None:
        """The session with this transaction id, if any."""
        return await self._one(f"{SELECT} WHERE transaction_id = ?", transaction_id)

    async def ocpp_chargers(self) -> list[str]:
        """Chargers that have a session with a charge point id."""

        def read(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT DISTINCT charger_id FROM sessions WHERE charge_point_id IS NOT NULL "
                "ORDER BY charger_id"
            ).fetchall()
            return [str(row[0]) for row in rows]

        return await self._run(read)

    async def next_transaction_id(self) -> int:
        """The counter row, raised by one (created at 1 if missing)."""

        def allocate(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                row = conn.execute(
                    "INSERT INTO counters (name, value) VALUES ('transactionId', 1)"
                    " ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value"
                ).fetchone()
            return int(row[0])

        value = await self._write(allocate)
        if value > MAX_TRANSACTION_ID:
            raise StoreUnavailable("transaction ids are exhausted")
        return value

    async def get(self, session_id: str) -> ChargingSession:
        """One session by its `sessionId`."""
        found = await self._one(f"{SELECT} WHERE session_id = ?", session_id)
        if found is None:
            raise SessionNotFound(f"no session with id {session_id!r}")
        return found

    async def query(self, query: SessionQuery) -> SessionPage:
        """A page of sessions matching the filters, newest first."""
        where, params = rows.where(query)

        def page(conn: sqlite3.Connection) -> SessionPage:
            conn.execute("BEGIN")  # one snapshot for the page and its count
            try:
                found = conn.execute(
                    f"{SELECT} {where} {NEWEST_FIRST} LIMIT ? OFFSET ?",
                    (*params, query.limit, query.offset),
                ).fetchall()
                count = f"SELECT COUNT(*) FROM sessions {where}"  # noqa: S608 - constant clauses
                total = conn.execute(count, params).fetchone()
            finally:
                conn.execute("COMMIT")
            return SessionPage(
                items=[from_row(row) for row in found],
                total=total[0],
                limit=query.limit,
                offset=query.offset,
            )

        return await self._run(page)

    async def save_readings(self, sessions: Sequence[ChargingSession]) -> None:
        """Write one tick's readings of the active sessions, `flush_slice` at a time.

        Each slice is one statement in a transaction of its own, run as a job of its own on the
        store's thread, the next submitted when the last is done: a command's or a page's job
        queued meanwhile runs between two slices, and waits for one slice (~1-2 ms), not for
        the whole flush (10,000 readings hold the connection ~70 ms).

        Only the last slice's COMMIT waits for the disk; the ones before it commit unsynced,
        and that last sync makes them durable too: one sync a flush, as in one transaction.
        (With a sync each, every slice would hold the connection for its sync, and 10,000
        readings would cost 40 syncs.) A power cut during a flush may lose its earlier slices:
        unsaved readings, which a restart recomputes from the meters; a crash of the process
        loses nothing committed.

        The slices follow the table's order (`id`, which orders as the rows were inserted), so
        each slice dirties pages of its own: in the fleet's order after a day of starts and
        stops, every slice would rewrite most pages of the active sessions (3x the time).
        A slice that fails raises, and the slices before it stay written: writing them again
        changes nothing more (`MAX`, and only rows still `Charging`).

        Each slice goes in as one JSON array, so SQLite updates its rows in a single step:
        `executemany` would take Python's GIL back between rows, and with the event loop on the
        same core each of those hand-overs can stall the loop for a switch interval (5 ms).

        Once the last slice is written the checkpointer may copy the log into the database file,
        on its own thread, while the store's thread is free for the next call.
        """
        ordered = sorted(sessions, key=_insertion_order)
        size = self._flush_slice
        self._flushing += 1
        try:
            for start in range(0, len(ordered), size):
                rows = json.dumps(
                    [
                        [s.meter_wh, s.energy_consumed, s.power_kw, ms(s.updated_at), s.session_id]
                        for s in ordered[start : start + size]
                    ]
                )
                synced = start + size >= len(ordered)
                await self._run(functools.partial(_save_readings, rows=rows, synced=synced))
        finally:
            self._flushing -= 1
        self.checkpoints.poke()

    async def finish(self, stopped: ChargingSession) -> ChargingSession | None:
        """Store a stop; None when the session was no longer active."""
        end = ms(stopped.end_time) if stopped.end_time is not None else None

        def stop(conn: sqlite3.Connection) -> ChargingSession | None:
            with transaction(conn):
                row = conn.execute(
                    STOP,
                    (
                        stopped.status.value,
                        end,
                        stopped.stop_reason,
                        ms(stopped.updated_at),
                        stopped.meter_wh,
                        stopped.energy_consumed,
                        stopped.session_id,
                        CHARGING,
                    ),
                ).fetchone()
                return None if row is None else from_row(row)

        return await self._write(stop)

    async def _one(self, sql: str, *params: object) -> ChargingSession | None:
        row = await self._run(lambda conn: conn.execute(sql, params).fetchone())
        return from_row(row) if row is not None else None

    async def _all(self, sql: str, *params: object) -> list[ChargingSession]:
        found = await self._run(lambda conn: conn.execute(sql, params).fetchall())
        return [from_row(row) for row in found]
