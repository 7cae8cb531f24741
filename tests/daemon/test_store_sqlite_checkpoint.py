"""The SQLite store's checkpoints: never inside a write of the store's connection, run from a
connection and a thread of their own, the log kept short, a failed one harmless, the whole log in
the database file once the store is closed."""

import asyncio
import contextlib
import logging
import shutil
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from evcsm_daemon.core.sessions import MeterReading, begin, finish, observe
from evcsm_daemon.store.checkpoint import Checkpointer
from evcsm_daemon.store.sqlite import SqliteStore
from evcsm_schema import ChargingSession, SessionQuery

from tests.support.clock import T0
from tests.support.threads import held

LATER = T0 + timedelta(minutes=5)
AUTOCHECKPOINT_PAGES = 1000
"""SQLite's default: a connection that writes checkpoints inside the commit that passes it."""


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    path = tmp_path / "sessions.db"
    opened = SqliteStore(path, timeout_ms=300, checkpoints=Checkpointer(path, every_s=0))
    await opened.ensure_indexes()
    yield opened
    await opened.close()


def log_pages(path: Path) -> int:
    """The pages in the write-ahead log (they restart from 0 after a complete checkpoint),
    read by a PASSIVE checkpoint of a connection of the test's own."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        busy, pages, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0
    return int(pages)


def checkpoints_held(store: SqliteStore) -> contextlib.AbstractAsyncContextManager[None]:
    """The checkpointer's thread busy until the block ends: no checkpoint runs meanwhile."""
    return held(store.checkpoints._thread, "the checkpointer's thread")


async def churn(store: SqliteStore, pairs: int) -> ChargingSession:
    """`pairs` starts and stops of one charger, each its own commit; the last start stays."""
    session, _ = await store.insert_active(begin("CP1", 0, T0))
    for n in range(pairs):
        stopped = await store.finish(finish(session, MeterReading(10 * n, 0), T0, None))
        assert stopped is not None
        session, created = await store.insert_active(begin("CP1", 10 * n, T0))
        assert created
    return session


async def settled(store: SqliteStore) -> None:
    """Every checkpoint asked for so far has run (they queue on one thread, in order)."""
    await asyncio.get_running_loop().run_in_executor(store.checkpoints._thread, lambda: None)


async def test_no_commit_of_the_store_runs_a_checkpoint(store: SqliteStore) -> None:
    """With the checkpointer held, commands write past SQLite's 1,000 pages: no commit copied
    the log into the database file and started it over, so every page is still in the log
    (with SQLite's automatic checkpoint, the commit passing 1,000 pages would have)."""
    assert store._conn is not None
    assert store._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    async with checkpoints_held(store):
        runs = store.checkpoints.runs
        await churn(store, 200)
        pages = log_pages(store.path)
        assert store.checkpoints.runs == runs
    assert pages > AUTOCHECKPOINT_PAGES
    assert (await store.query(SessionQuery())).total == 201


async def test_the_checkpointer_copies_the_log_after_writes_and_it_starts_over(
    store: SqliteStore,
) -> None:
    """Writes poke the checkpointer, which copies the whole log (PASSIVE) from its own
    connection; the next write starts the log over, so it holds only what came since."""
    active = await churn(store, 50)
    await settled(store)
    busy, pages, copied = store.checkpoints.last or (1, 0, -1)
    assert (busy, copied) == (0, pages)
    runs = store.checkpoints.runs
    await store.save_readings([observe(active, MeterReading(2000, 7.0), LATER)])
    await settled(store)
    assert store.checkpoints.runs == runs + 1
    assert log_pages(store.path) < pages
    assert store.checkpoints.restarts == 0


async def test_the_log_stays_bounded_under_a_stream_of_flushes(tmp_path: Path) -> None:
    """A flush a round, each followed by its checkpoint: the log is started over again and
    again, and never holds more than a few flushes' pages (SQLite's own checkpoint would
    have let it reach 1,000 pages: 40 flushes write some 2,500)."""
    path = tmp_path / "sessions.db"
    store = SqliteStore(path, flush_slice=25, checkpoints=Checkpointer(path, every_s=0))
    try:
        await store.ensure_indexes()
        started = await asyncio.gather(
            *(store.insert_active(begin(f"CP{n}", 0, T0)) for n in range(200))
        )
        sessions = [session for session, _ in started]
        await settled(store)
        most = 0
        for k in range(40):
            at = T0 + timedelta(seconds=k + 1)
            await store.save_readings([observe(s, MeterReading(k + 1, 7.0), at) for s in sessions])
            await settled(store)
            most = max(most, path.with_name("sessions.db-wal").stat().st_size)
        pages_a_flush = 200 // 25 * 8  # each slice rewrites its rows' pages and the indexes'
        assert most < 4 * pages_a_flush * 4120  # a frame: 4,096 bytes and its header
        assert log_pages(path) <= pages_a_flush
    finally:
        await store.close()


async def test_a_log_past_the_bound_is_restarted(tmp_path: Path) -> None:
    """More pages than `limit_pages` left after a PASSIVE checkpoint: a RESTART follows, and
    the next write starts the log over."""
    path = tmp_path / "sessions.db"
    store = SqliteStore(path, checkpoints=Checkpointer(path, every_s=0, limit_pages=50))
    try:
        await store.ensure_indexes()
        async with checkpoints_held(store):
            active = await churn(store, 30)
        await settled(store)
        assert store.checkpoints.restarts >= 1
        assert store.checkpoints.last is not None
        assert store.checkpoints.last[0] == 0
        await store.save_readings([observe(active, MeterReading(2000, 7.0), LATER)])
        await settled(store)
        assert log_pages(path) < 50
    finally:
        await store.close()


def failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]


async def test_a_reader_with_an_old_snapshot_holds_the_log_and_breaks_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A reader keeps a snapshot from before the writes: checkpoints cannot copy past it nor
    start the log over, and no RESTART is tried (it could not succeed). Writes go on and are
    all kept; the failure is logged once; once the reader is gone the next checkpoint copies
    the whole log."""
    path = tmp_path / "sessions.db"
    store = SqliteStore(path, checkpoints=Checkpointer(path, every_s=0, limit_pages=20))
    caplog.set_level(logging.INFO, logger="evcsm_daemon.store.checkpoint")
    try:
        await store.ensure_indexes()
        await store.insert_active(begin("CP0", 0, T0))
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as reader:
            reader.execute("BEGIN")
            assert reader.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 1
            for _ in range(3):
                await churn(store, 20)
                await settled(store)
            assert store.checkpoints.restarts == 0
            (failed,) = failures(caplog)
            assert "behind a reader's snapshot" in failed
            assert reader.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 1
            reader.execute("COMMIT")
        active = await churn(store, 1)
        await settled(store)
        assert store.checkpoints.last is not None
        assert store.checkpoints.last[0] == 0
        assert store.checkpoints.last[1] == store.checkpoints.last[2]
        assert any("works again" in r.getMessage() for r in caplog.records)
        total = 1 + 1 + 3 * 20 + 1  # CP0; CP1's first; 20 more a round; one more
        assert (await store.query(SessionQuery())).total == total
        assert await store.active("CP1") == active
    finally:
        await store.close()


async def test_a_restart_kept_waiting_by_a_reader_gives_up_and_waits_for_the_log_to_double(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A reader at the end of a log past the bound: the PASSIVE checkpoint copies it all, the
    RESTART waits for the reader, gives up, and is not tried again until the log has doubled
    (each try holds the writes up to its wait). Every write lands meanwhile."""
    path = tmp_path / "sessions.db"
    store = SqliteStore(path, checkpoints=Checkpointer(path, every_s=0, limit_pages=50))
    caplog.set_level(logging.INFO, logger="evcsm_daemon.store.checkpoint")
    try:
        await store.ensure_indexes()
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as reader:
            async with checkpoints_held(store):
                await churn(store, 20)
                reader.execute("BEGIN")
                assert reader.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 21
            await settled(store)
            assert store.checkpoints.restarts == 1
            (failed,) = failures(caplog)
            assert "kept it from starting over within 20 ms" in failed
            busy, pages, copied = store.checkpoints.last or (0, 0, 0)
            assert (busy, copied) == (1, pages)
            runs = store.checkpoints.runs
            await store.save_readings([])  # a flush with nothing to write: a checkpoint
            await settled(store)
            assert store.checkpoints.runs == runs + 1
            assert store.checkpoints.restarts == 1  # the log has not doubled: no RESTART
            await churn(store, 2)  # past the reader's snapshot now: no RESTART could succeed
            await settled(store)
            assert store.checkpoints.restarts == 1
            reader.execute("COMMIT")
        await churn(store, 1)
        await settled(store)
        assert (await store.query(SessionQuery())).total == 21 + 2 + 1
    finally:
        await store.close()


async def test_closing_puts_the_whole_log_in_the_database_file(tmp_path: Path) -> None:
    """Data written just before close is in the database file itself once closed: that file
    alone, copied without its log, opens with every session."""
    path = tmp_path / "sessions.db"
    store = SqliteStore(path, checkpoints=Checkpointer(path, every_s=3600))
    await store.ensure_indexes()
    active = await churn(store, 40)
    await store.save_readings([observe(active, MeterReading(2000, 7.0), LATER)])
    await store.close()
    log = path.with_name("sessions.db-wal")
    assert not log.exists() or log.stat().st_size == 0
    alone = tmp_path / "alone" / "sessions.db"
    alone.parent.mkdir()
    shutil.copy(path, alone)
    reopened = SqliteStore(alone)
    try:
        await reopened.ensure_indexes()
        assert (await reopened.query(SessionQuery())).total == 41
        assert (await reopened.get(active.session_id)).meter_wh == 2000
    finally:
        await reopened.close()


async def test_at_most_one_checkpoint_in_every_s(tmp_path: Path) -> None:
    """Pokes after starts, stops and flushes run a checkpoint only if none ran for `every_s`."""
    path = tmp_path / "paced.db"
    paced = SqliteStore(path, checkpoints=Checkpointer(path, every_s=3600))
    try:
        await paced.ensure_indexes()
        await settled(paced)
        assert paced.checkpoints.runs == 1  # the first write: none ran before
        active = await churn(paced, 5)
        await paced.save_readings([observe(active, MeterReading(2000, 7.0), LATER)])
        await settled(paced)
        assert paced.checkpoints.runs == 1
    finally:
        await paced.close()


async def test_no_checkpoint_is_asked_for_during_a_flush(tmp_path: Path) -> None:
    """A stop stored between two slices of a flush does not start a checkpoint (it would
    overlap the next slices and the log could not start over); the flush's end does."""
    path = tmp_path / "sessions.db"
    store = SqliteStore(path, flush_slice=2, checkpoints=Checkpointer(path, every_s=0))
    try:
        await store.ensure_indexes()
        sessions = [(await store.insert_active(begin(f"CP{n}", 0, T0)))[0] for n in range(6)]
        await settled(store)
        statements: list[str] = []
        assert store._conn is not None
        assert store.checkpoints._conn is not None
        store._conn.set_trace_callback(statements.append)
        store.checkpoints._conn.set_trace_callback(statements.append)
        readings = [observe(s, MeterReading(1000, 7.0), LATER) for s in sessions]
        flush = asyncio.create_task(store.save_readings(readings))
        stop = asyncio.create_task(
            store.finish(finish(sessions[0], MeterReading(900, 0), LATER, None))
        )
        await asyncio.gather(flush, stop)
        await settled(store)
        kinds = [
            "slice"
            if s.startswith("UPDATE sessions SET meter_wh")
            else "stop"
            if s.startswith("UPDATE sessions SET status")
            else "checkpoint"
            for s in statements
            if s.startswith(("UPDATE", "PRAGMA wal_checkpoint"))
        ]
        assert kinds == ["slice", "stop", "slice", "slice", "checkpoint"]
    finally:
        await store.close()
