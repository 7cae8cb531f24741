"""The SQLite store's flush in slices: each slice a job of its own on the store's thread, so a
call made during a flush runs between two slices; the slices in the table's order; one sync a
flush; a slice written after a stop never reopens or lowers it; a slice that fails leaves the
ones before it, and writing them all again is harmless."""

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from evcsm_daemon.core.sessions import MeterReading, begin, finish, observe
from evcsm_daemon.errors import StoreUnavailable
from evcsm_daemon.store.sqlite import SqliteStore
from evcsm_schema import ChargingSession, SessionQuery, SessionStatus

from tests.support import threads
from tests.support.clock import T0
from tests.support.process import eventually

SLICE = 2
LATER = T0 + timedelta(minutes=5)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "sessions.db", timeout_ms=300, flush_slice=SLICE)
    await opened.ensure_indexes()
    yield opened
    await opened.close()


async def charging(store: SqliteStore, count: int) -> list[ChargingSession]:
    """`count` sessions started one after another: in this order in the table."""
    return [(await store.insert_active(begin(f"CP{n}", 0, T0)))[0] for n in range(count)]


def traced(store: SqliteStore) -> list[str]:
    """Every statement the store's connection runs from now on, in order."""
    statements: list[str] = []
    assert store._conn is not None
    store._conn.set_trace_callback(statements.append)
    return statements


def kinds(statements: list[str]) -> list[str]:
    """The writes and pages among `statements`: a slice of readings, a stop, a page."""
    found = []
    for statement in statements:
        if statement.startswith("UPDATE sessions SET meter_wh"):
            found.append("slice")
        elif statement.startswith("UPDATE sessions SET status"):
            found.append("stop")
        elif " OFFSET " in statement:
            found.append("page")
    return found


def held(store: SqliteStore) -> contextlib.AbstractAsyncContextManager[None]:
    """The store's thread busy, as with a slice running, until the block ends."""
    return threads.held(store._thread, "the store's thread")


async def queued(store: SqliteStore, count: int) -> None:
    """Wait until `count` jobs wait for the store's thread (held: none runs)."""

    async def waiting() -> bool:
        return store._thread._work_queue.qsize() >= count

    await eventually(f"{count} jobs queued for the store's thread", waiting)


async def meters(store: SqliteStore, sessions: list[ChargingSession]) -> list[int]:
    return [(await store.get(s.session_id)).meter_wh for s in sessions]


async def test_a_stop_and_a_page_made_during_a_flush_run_between_two_slices(
    store: SqliteStore,
) -> None:
    """A flush of three slices; a stop and a page arrive while the first slice runs: they run
    before the second, and the later slice with a reading of the stopped session leaves it
    stopped with its final figures (its reading is higher and later than the stop's)."""
    sessions = await charging(store, 3 * SLICE)
    readings = [observe(s, MeterReading(1000, 7.0), LATER) for s in sessions]
    last = sessions[-1]
    final = finish(last, MeterReading(800, 0), LATER - timedelta(minutes=1), "EVDisconnected")
    statements = traced(store)
    async with held(store):
        flush = asyncio.create_task(store.save_readings(readings[::-1]))
        await queued(store, 1)  # the first slice, waiting for the thread
        stop = asyncio.create_task(store.finish(final))
        page = asyncio.create_task(store.query(SessionQuery(limit=50)))
        await queued(store, 3)
    await flush
    assert kinds(statements) == ["slice", "stop", "page", "slice", "slice"]
    seen = {s.session_id: s.meter_wh for s in (await page).items}
    assert [seen[s.session_id] for s in sessions] == [1000, 1000, 0, 0, 0, 800]

    stopped = await stop
    assert stopped is not None
    assert await store.get(last.session_id) == stopped
    assert stopped.status is SessionStatus.STOPPED
    assert (stopped.meter_wh, stopped.power_kw) == (800, 0.0)
    assert stopped.energy_consumed == final.energy_consumed
    assert stopped.updated_at == final.updated_at
    assert stopped.end_time == final.end_time
    assert await meters(store, sessions[:-1]) == [1000] * 5


async def test_the_slices_follow_the_table_and_only_the_last_one_syncs(
    store: SqliteStore,
) -> None:
    """Readings in any order are written in the order the rows were inserted, so a slice
    dirties pages of its own; the slices before the last commit unsynced, the last one syncs
    (and so the ones before it): one sync a flush."""
    sessions = await charging(store, 3 * SLICE)
    statements = traced(store)
    await store.save_readings([observe(s, MeterReading(1000, 7.0), LATER) for s in sessions[::-1]])
    slices = [s for s in statements if s.startswith("UPDATE sessions SET meter_wh")]
    ids = [s.session_id for s in sessions]
    assert [[i for i in ids if i in slice_] for slice_ in slices] == [ids[0:2], ids[2:4], ids[4:6]]
    writes = [s for s in statements if s.startswith(("PRAGMA synchronous", "UPDATE", "COMMIT"))]
    assert writes == [  # the level is set when it changes, and holds until it is set again
        "PRAGMA synchronous = NORMAL",
        slices[0],
        "COMMIT",
        slices[1],
        "COMMIT",
        "PRAGMA synchronous = FULL",
        slices[2],
        "COMMIT",
    ]
    assert await meters(store, sessions) == [1000] * 6


async def test_a_stop_and_a_start_are_one_transaction_of_few_statements(store: SqliteStore) -> None:
    """Each statement on the store's thread is a hand-off of the GIL with the event loop, which
    a command waits for while the loop runs a tick: a stop is its UPDATE answering with the
    row, a start its INSERT after the two reads that make it idempotent, each in a transaction
    that sets its level only when it changes."""
    (session,) = await charging(store, 1)
    statements = traced(store)
    stopped = await store.finish(finish(session, MeterReading(500, 0), LATER, "Local"))
    assert stopped is not None
    assert stopped.status is SessionStatus.STOPPED
    assert stopped.meter_wh == 500
    assert [s.split(" ")[0] for s in statements] == ["BEGIN", "UPDATE", "COMMIT"]
    assert await store.finish(finish(session, MeterReading(600, 0), LATER, "Local")) is None
    statements.clear()
    started, created = await store.insert_active(begin("CP9", 0, LATER))
    assert created
    assert [s.split(" ")[0] for s in statements] == [
        "BEGIN",
        "SELECT",
        "SELECT",
        "INSERT",
        "COMMIT",
    ]
    assert await store.active("CP9") == started


async def test_a_slice_that_fails_leaves_the_ones_before_it_and_writing_all_again_is_harmless(
    store: SqliteStore,
) -> None:
    """Another writer takes the file after the first slice: the second fails after the busy
    timeout and the flush raises, the first slice stays written. The service keeps the
    readings and writes them all again: that changes nothing more for a session stopped
    meanwhile, and stores the rest."""
    sessions = await charging(store, 3 * SLICE)
    readings = [observe(s, MeterReading(1000, 7.0), LATER) for s in sessions]
    loop = asyncio.get_running_loop()
    with contextlib.closing(
        sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
    ) as other:
        async with held(store):
            flush = asyncio.create_task(store.save_readings(readings))
            await queued(store, 1)
            locking = loop.run_in_executor(store._thread, other.execute, "BEGIN IMMEDIATE")
            await queued(store, 2)
        with pytest.raises(StoreUnavailable, match="locked"):
            await flush
        await locking
        other.execute("ROLLBACK")
    assert await meters(store, sessions) == [1000, 1000, 0, 0, 0, 0]

    first = sessions[0]
    stopped = await store.finish(finish(first, MeterReading(1200, 0), LATER, None))
    assert stopped is not None
    await store.save_readings(readings)
    assert await store.get(first.session_id) == stopped
    assert stopped.meter_wh == 1200
    assert await meters(store, sessions[1:]) == [1000] * 5
    assert store._conn is not None
    assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again
