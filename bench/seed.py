"""Stored history for the fleet benchmark: stopped sessions on the fleet's chargers, before it runs.

`count` stopped sessions, spread evenly over the charger ids, one a minute per charger, the newest
ending a day before now, so that the daemon starts with a history of that size and every charger
idle. The memory store is filled through its API; the MongoDB double's server with the
documents the store would have written, inserted in batches as a restore would; a SQLite file
with one bulk INSERT (`bench.store` does the same: the store's own commits fsync each).
"""

import contextlib
import itertools
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from evcsm_daemon.core.sessions import MeterReading, begin, finish
from evcsm_daemon.store.documents import to_document, with_id
from evcsm_daemon.store.memory import MemoryStore
from evcsm_daemon.store.mongo import COLLECTION
from evcsm_daemon.store.rows import INSERT, to_row
from evcsm_schema import ChargingSession, SessionStatus

from tests.support.mongo_double import Database

AGE = timedelta(days=1)
"""How long before now the newest stored session ended."""
DOUBLE_BATCH = 1000
"""Documents per insert into the double."""


def stopped_sessions(
    charger_ids: Sequence[str], count: int, now: datetime
) -> Iterator[ChargingSession]:
    """`count` stopped sessions on `charger_ids` in turn, oldest first, each 50 s long."""
    per_charger = -(-count // len(charger_ids))
    first = now - AGE - timedelta(minutes=per_charger)
    for k in range(count):
        charger_id, slot = charger_ids[k % len(charger_ids)], k // len(charger_ids)
        start = first + timedelta(minutes=slot)
        started = with_id(begin(charger_id, slot * 1000, start))
        yield finish(
            started, MeterReading(slot * 1000 + 300, 0.0), start + timedelta(seconds=50), None
        )


async def into_memory(store: MemoryStore, sessions: Iterator[ChargingSession]) -> int:
    """Store `sessions` through the memory store's API, started then stopped; how many."""
    count = 0
    for session in sessions:
        started = session.model_copy(
            update={"status": SessionStatus.CHARGING, "end_time": None, "stop_reason": None}
        )
        await store.insert_active(started)
        await store.finish(session)
        count += 1
    return count


def into_sqlite(path: Path, sessions: Iterator[ChargingSession]) -> int:
    """Store `sessions` in the SQLite file at `path` (its schema created already)."""
    rows = [to_row(session) for session in sessions]
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.executemany(INSERT, rows)
    return len(rows)


async def into_mongo_double(database: Database, sessions: Iterable[ChargingSession]) -> int:
    """Store `sessions` as the store's documents in the MongoDB double's `database`, in
    inserts of DOUBLE_BATCH; how many."""
    count = 0
    collection = database[COLLECTION]
    documents = (to_document(session) for session in sessions)
    while batch := list(itertools.islice(documents, DOUBLE_BATCH)):
        count += await collection.insert_many(batch)
    return count
