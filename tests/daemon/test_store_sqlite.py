"""What only the SQLite backend has: a file that keeps its sessions, durable commits, the
database enforcing the guarantees, a thread of its own, and its failures mapped."""

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from evcsm_daemon.config import Settings
from evcsm_daemon.core.sessions import MeterReading, begin, finish, observe
from evcsm_daemon.errors import StoreUnavailable, WriteNotConfirmed
from evcsm_daemon.store import open_store
from evcsm_daemon.store.sqlite import SAVE_READINGS, SCHEMA_VERSION, SqliteStore, sqlite_path
from evcsm_schema import SessionQuery
from pydantic import ValidationError

from tests.support.clock import T0


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "sessions.db", timeout_ms=300)
    await opened.ensure_indexes()
    yield opened
    await opened.close()


def connection(store: SqliteStore) -> sqlite3.Connection:
    assert store._conn is not None
    return store._conn


async def test_sessions_survive_closing_and_reopening(store: SqliteStore) -> None:
    first, _ = await store.insert_active(begin("CP1", 0, T0))
    done = await store.finish(finish(first, MeterReading(900, 0), T0 + timedelta(minutes=3), None))
    assert done is not None
    active, _ = await store.insert_active(begin("CP1", 900, T0 + timedelta(minutes=5)))
    await store.save_readings([observe(active, MeterReading(1500, 7.4), T0 + timedelta(minutes=9))])
    await store.close()
    reopened = open_store(f"sqlite:{store.path}")
    try:
        await reopened.ensure_indexes()  # again: nothing to create, nothing lost
        page = await reopened.query(SessionQuery())
        assert page.total == 2
        (now_active,) = await reopened.all_active()
        assert now_active.session_id == active.session_id
        assert now_active.meter_wh == 1500
        assert await reopened.get(done.session_id) == done
    finally:
        await reopened.close()


async def test_a_flush_finds_each_session_by_its_id(store: SqliteStore) -> None:
    """A tick's readings reach their sessions through the unique `session_id`, one lookup per
    reading, and not through the status index, which read the whole array of readings once per
    active session (a flush of 1,000 took a second)."""
    plan = [
        row[3]
        for row in connection(store).execute(
            f"EXPLAIN QUERY PLAN {SAVE_READINGS}", ("[]", "Charging")
        )
    ]
    (search,) = [step for step in plan if step.startswith("SEARCH sessions")]
    assert "(session_id=?)" in search
    assert not any(step.startswith("SCAN sessions") for step in plan)


async def test_commits_are_durable_and_the_log_is_write_ahead(store: SqliteStore) -> None:
    conn = connection(store)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: fsync on every commit
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


async def test_the_database_itself_allows_one_active_session_per_charger(
    store: SqliteStore,
) -> None:
    session, _ = await store.insert_active(begin("CP1", 0, T0))
    insert = (
        "INSERT INTO sessions (id, session_id, charger_id, status, start_ms, energy_consumed,"
        " meter_start_wh, meter_wh, power_kw, updated_ms) VALUES (?, ?, 'CP1', ?, 0, 0, 0, 0, 0, 0)"
    )
    with contextlib.closing(sqlite3.connect(store.path)) as other:
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
            other.execute(insert, ("x", "y", "Charging"))
        other.execute(insert, ("x", "y", "Stopped"))
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            other.execute("UPDATE sessions SET status = 'Paused' WHERE id = 'x'")
    assert await store.active("CP1") == session


async def test_a_locked_file_is_unavailable_and_the_loop_goes_on(store: SqliteStore) -> None:
    """Another process holds the write lock: the write waits on the store's thread, the event
    loop keeps running, and after the busy timeout the write fails having changed nothing."""
    beats = 0

    async def heartbeat() -> None:
        nonlocal beats
        while True:
            beats += 1
            await asyncio.sleep(0.001)

    with contextlib.closing(sqlite3.connect(store.path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        beating = asyncio.create_task(heartbeat())
        try:
            before = beats
            with pytest.raises(StoreUnavailable, match="locked"):
                await store.insert_active(begin("CP1", 0, T0))
            assert beats > before + 5  # the loop ran while the store waited for the lock
        finally:
            beating.cancel()
            other.execute("ROLLBACK")
    assert (await store.query(SessionQuery())).total == 0
    assert await store.ping()


async def test_a_refused_statement_changes_nothing_and_a_failed_commit_is_unconfirmed(
    store: SqliteStore,
) -> None:
    conn = connection(store)
    refused: list[str] = []

    def deny(refuse: str) -> None:
        def authorize(action: int, arg: str | None, *_: object) -> int:
            if (action, arg) in {
                (sqlite3.SQLITE_INSERT, "sessions"),
                (sqlite3.SQLITE_TRANSACTION, "COMMIT"),
            } and refuse in (arg or ""):
                refused.append(refuse)
                return sqlite3.SQLITE_DENY
            return sqlite3.SQLITE_OK

        conn.set_authorizer(authorize)

    session = begin("CP1", 0, T0)
    deny("sessions")
    with pytest.raises(StoreUnavailable, match="not authorized"):
        await store.insert_active(session)
    deny("COMMIT")
    with pytest.raises(WriteNotConfirmed, match="did not confirm"):
        await store.insert_active(session)
    conn.set_authorizer(None)
    assert refused == ["sessions", "COMMIT"]
    assert (await store.query(SessionQuery())).total == 0  # both were rolled back
    again, created = await store.insert_active(session)  # the repeat settles it
    assert created
    assert again.session_id == session.session_id


async def test_a_missing_folder_is_unavailable_naming_it(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "nowhere" / "sessions.db")
    with pytest.raises(StoreUnavailable, match="nowhere"):
        await store.ensure_indexes()
    assert not await store.ping()
    await store.close()


async def test_a_file_from_a_newer_daemon_is_refused(store: SqliteStore) -> None:
    connection(store).execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    await store.close()
    newer = SqliteStore(store.path)
    with pytest.raises(StoreUnavailable, match="newer than this daemon"):
        await newer.ensure_indexes()
    await newer.close()


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("sqlite:run/sessions.db", "run/sessions.db"),
        ("sqlite:/var/lib/evcsm/sessions.db", "/var/lib/evcsm/sessions.db"),
        ("sqlite:///var/lib/evcsm/sessions.db", "/var/lib/evcsm/sessions.db"),
        ("SQLite:sessions.db", "sessions.db"),
    ],
)
def test_sqlite_uris_name_a_file(uri: str, path: str) -> None:
    assert sqlite_path(uri) == Path(path)
    assert Settings(store_uri=uri).store_uri == uri


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("sqlite:", "name the database file"),
        ("sqlite:run/", "name the database file"),
        ("sqlite://host/sessions.db", "not a host"),
        ("postgres://db/evcsm", "unknown store"),
        ("memroy", "unknown store"),
    ],
)
def test_bad_store_uris_are_refused_when_read(uri: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(store_uri=uri)


VERSION_1 = """
CREATE TABLE sessions (
    id TEXT PRIMARY KEY, session_id TEXT NOT NULL UNIQUE, charger_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('Charging', 'Stopped')), start_ms INTEGER NOT NULL,
    end_ms INTEGER, energy_consumed REAL NOT NULL, meter_start_wh INTEGER NOT NULL,
    meter_wh INTEGER NOT NULL, power_kw REAL NOT NULL, stop_reason TEXT,
    updated_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX one_active_session_per_charger ON sessions (charger_id)
    WHERE status = 'Charging';
INSERT INTO sessions VALUES ('65b7e2e5e3b75c0012345678', 'old', 'CP1', 'Charging',
    1768464000000, NULL, 0.5, 100, 600, 11.0, NULL, 1768464060000);
PRAGMA user_version = 1;
"""


async def test_a_version_1_file_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript(VERSION_1)
    store = SqliteStore(path)
    try:
        await store.ensure_indexes()
        old = await store.get("old")
        assert old.meter_wh == 600
        assert old.transaction_id is None
        assert old.charge_point_id is None
        assert await store.next_transaction_id() == 1
        await store.ensure_indexes()  # opening it again changes nothing
        assert connection(store).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert await store.active("CP1") == old
    finally:
        await store.close()


async def test_starts_that_arrive_during_a_commit_are_committed_together(
    store: SqliteStore,
) -> None:
    """Group commit: starts queued while the store's thread is busy go into one transaction;
    each gets its own answer, one that fails fails alone, and one charger still gets one."""
    taken, _ = await store.insert_active(
        begin("CP0", 0, T0).model_copy(update={"transaction_id": 7})
    )
    conn = connection(store)
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    busy = threading.Event()
    loop = asyncio.get_running_loop()
    blocked = loop.run_in_executor(store._thread, busy.wait)  # a commit in flight, as it were
    sessions = [begin(f"CP{number}", 0, T0) for number in range(1, 51)]
    twin = begin("CP7", 0, T0 + timedelta(seconds=1))
    clash = begin("CP99", 0, T0).model_copy(update={"transaction_id": 7})
    answers = asyncio.gather(
        *(store.insert_active(s) for s in [*sessions, twin, clash]), return_exceptions=True
    )
    await asyncio.sleep(0.05)
    busy.set()
    await blocked
    *started, second, refused = await answers
    assert [created for _, created in started] == [True] * 50  # type: ignore[misc]
    assert second == (started[6][0], False)  # type: ignore[index]
    assert isinstance(refused, StoreUnavailable)
    assert len([s for s in statements if s == "COMMIT"]) == 1
    assert len(await store.all_active()) == 51  # CP0 and the fifty
    assert taken.transaction_id == 7
