"""Store benchmark: starts of N sessions, and history pages among 100,000 stored sessions.

    uv run python -m bench.store                       # every backend, the default sizes
    uv run python -m bench.store --starts 1000 10000 --in-flight 1 100 --stored 100000 --repeat 20

Starts: N sessions on N chargers through `insert_active`, one after another or `--in-flight` at
a time, as N start commands would do; the total and the time per start show whether a start's cost grows with the number of
sessions already stored. The former in-process store (mongomock-motor through the MongoDB code)
is measured too, at smaller N, for comparison, and the MongoDB store on the driver double
(tests/support/mongo_double.py: PyMongo's requests, BSON both ways, a server with the store's
indexes in a process of its own, a fresh one for each store, reached over a Unix socket).

Pages: `--stored` sessions on 100 chargers, one a minute per charger, every charger's newest
still charging; then each query of the table, a page of 50, `--repeat` times (the median and the
slowest are shown), on memory, SQLite and the MongoDB store on the double. The memory store is
filled through the store API; the SQLite file through one bulk INSERT of the same rows (the
store's own commits fsync each, which would only make filling slow); the double's server with
the documents the store writes. Everything runs in this process on temporary files; nothing
else is touched.
"""

import argparse
import asyncio
import contextlib
import sqlite3
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from evcsm_daemon.core.sessions import MeterReading, begin, finish
from evcsm_daemon.store import SessionStore
from evcsm_daemon.store.documents import with_id
from evcsm_daemon.store.memory import MemoryDatabase, MemoryStore
from evcsm_daemon.store.mongo import MongoStore
from evcsm_daemon.store.rows import INSERT, to_row
from evcsm_daemon.store.sqlite import SqliteStore
from evcsm_schema import ChargingSession, SessionQuery, SessionStatus

from bench.seed import into_mongo_double
from tests.support.mongo import mongo_store, mongomock_database
from tests.support.mongo_process import DoubleProcess
from tests.support.mongo_server import Stats

T0 = datetime(2025, 1, 1, tzinfo=UTC)
CHARGERS = 100
PAGE = 50
DOUBLE = "mongodb-double"


class DoubleStore(MongoStore):
    """The MongoDB store on the driver double, on a server process of its own (stopped by
    `close`) that `fill` stores documents in."""

    def __init__(self) -> None:
        self.process = DoubleProcess()
        self.process.start()
        self.database = self.process.database()
        super().__init__(self.database, close=self._stop)

    async def _stop(self) -> None:
        await self.database.close()
        self.process.close()


@contextlib.asynccontextmanager
async def opened(kind: str, folder: Path) -> AsyncIterator[SessionStore]:
    """A fresh, empty store of `kind`."""
    store: SessionStore
    if kind == "memory":
        store = MemoryStore(MemoryDatabase())
    elif kind == "sqlite":
        store = SqliteStore(folder / f"bench-{time.monotonic_ns()}.db")
    elif kind == DOUBLE:
        store = DoubleStore()
    else:
        store = mongo_store(mongomock_database())
    await store.ensure_indexes()
    try:
        yield store
    finally:
        await store.close()


async def time_starts(
    kind: str, count: int, folder: Path, in_flight: int = 1
) -> tuple[float, float]:
    """Seconds for `count` starts on as many chargers, `in_flight` at a time (as many start
    commands arriving together would), and for the last 10 % of them."""
    async with opened(kind, folder) as store:
        started = time.perf_counter()
        tail_from = started
        numbers = iter(range(count))

        async def starter() -> None:
            nonlocal tail_from
            for k in numbers:
                if k == count - count // 10:
                    tail_from = time.perf_counter()
                await store.insert_active(begin(f"CP{k}", 0, T0 + timedelta(seconds=k)))
                if await store.active(f"CP{k}") is None:
                    raise RuntimeError(f"{kind}: CP{k} did not start")

        async with asyncio.TaskGroup() as group:
            for worker in range(in_flight):
                group.create_task(starter(), name=f"starter-{worker}")
        ended = time.perf_counter()
    return ended - started, ended - tail_from


def history(stored: int) -> list[tuple[ChargingSession, ChargingSession | None]]:
    """`stored` sessions as (started, stopped): per charger one a minute, each charger's newest
    still charging (stopped is None)."""
    sessions: list[tuple[ChargingSession, ChargingSession | None]] = []
    for k in range(stored):
        charger, slot = f"CP{k % CHARGERS:03d}", k // CHARGERS
        start = T0 + timedelta(minutes=slot)
        started = with_id(begin(charger, slot * 100, start))
        stopped = None
        if k < stored - CHARGERS:
            stopped = finish(started, MeterReading(slot * 100 + 90, 0), start, None)
        sessions.append((started, stopped))
    return sessions


async def fill(
    store: SessionStore, sessions: list[tuple[ChargingSession, ChargingSession | None]]
) -> None:
    """Store `sessions`: through the API, one bulk INSERT for a SQLite file, the documents into
    the double's server."""
    if isinstance(store, SqliteStore):
        with contextlib.closing(sqlite3.connect(store.path)) as conn, conn:
            conn.executemany(INSERT, [to_row(stopped or started) for started, stopped in sessions])
        return
    if isinstance(store, DoubleStore):
        await into_mongo_double(
            store.database, (stopped or started for started, stopped in sessions)
        )
        return
    for started, stopped in sessions:
        _, created = await store.insert_active(started)
        if not created:
            raise RuntimeError(f"{started.charger_id} was busy")
        if stopped is not None:
            await store.finish(stopped)


def queries(stored: int) -> list[tuple[str, SessionQuery]]:
    """The table's queries: every filter the query offers, alone and together."""
    day = T0 + timedelta(minutes=stored // CHARGERS // 2)
    window = {"since": day, "until": day + timedelta(hours=1)}
    return [
        ("newest 50", SessionQuery(limit=PAGE)),
        ("chargerId", SessionQuery(charger_id="CP042", limit=PAGE)),
        ("status=Stopped", SessionQuery(status=SessionStatus.STOPPED, limit=PAGE)),
        ("status=Charging", SessionQuery(status=SessionStatus.CHARGING, limit=PAGE)),
        ("since/until (1 h)", SessionQuery(limit=PAGE, **window)),
        ("chargerId + since/until", SessionQuery(charger_id="CP042", limit=PAGE, **window)),
        (
            "chargerId + Stopped",
            SessionQuery(charger_id="CP042", status=SessionStatus.STOPPED, limit=PAGE),
        ),
        (f"offset {stored // 2:,}", SessionQuery(limit=PAGE, offset=stored // 2)),
        (
            f"Stopped, offset {stored // 2:,}",
            SessionQuery(status=SessionStatus.STOPPED, limit=PAGE, offset=stored // 2),
        ),
    ]


@dataclass(frozen=True)
class Pages:
    """One query's pages on one store."""

    median_s: float
    slowest_s: float
    total: int
    reads: Stats | None = None
    """On the double: what its server read for one page and its total."""


async def time_pages(kind: str, stored: int, repeat: int, folder: Path) -> dict[str, Pages]:
    """Per query: the median and slowest page, the total it counted (and on the double what its
    server read for one)."""
    results: dict[str, Pages] = {}
    async with opened(kind, folder) as store:
        await fill(store, history(stored))
        double = store.database if isinstance(store, DoubleStore) else None
        for name, query in queries(stored):
            took: list[float] = []
            total = 0
            reads = None
            for _ in range(repeat):
                before = (await double.status()).stats if double is not None else None
                started = time.perf_counter()
                page = await store.query(query)
                took.append(time.perf_counter() - started)
                total = page.total
                if double is not None and before is not None:
                    reads = (await double.status()).stats.since(before)
            results[name] = Pages(statistics.median(took), max(took), total, reads)
    return results


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.2f}"


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="evcsm-bench-store-") as tmp:
        folder = Path(tmp)
        print("## Starts\n")
        print("| backend | N | at once | total s | per start ms | per start, last 10 % ms |")
        print("|---|---:|---:|---:|---:|---:|")
        plan: list[tuple[str, list[int]]] = [
            ("memory", args.starts),
            ("sqlite", args.starts),
            ("mongomock (former memory)", args.mongomock_starts),
            (f"{DOUBLE} (MongoDB store on the double)", args.starts),
        ]
        for kind, counts in plan:
            for count in counts:
                for at_once in args.in_flight:
                    total, tail = await time_starts(kind.split()[0], count, folder, at_once)
                    print(
                        f"| {kind} | {count:,} | {at_once} | {total:.2f} | {ms(total / count)} |"
                        f" {ms(tail / (count // 10))} |"
                    )
        print(f"\n## A page of {PAGE} among {args.stored:,} stored sessions\n")
        kinds = ("memory", "sqlite", DOUBLE)
        by_kind = {kind: await time_pages(kind, args.stored, args.repeat, folder) for kind in kinds}
        print(
            "| query | total | memory median / max ms | SQLite median / max ms"
            " | MongoDB store on the double median / max ms | the double's server read |"
        )
        print("|---|---:|---:|---:|---:|---|")
        for name, _ in queries(args.stored):
            rows = [by_kind[kind][name] for kind in kinds]
            if len({row.total for row in rows}) != 1:
                raise RuntimeError(f"{name}: the stores counted {[row.total for row in rows]}")
            cells = " | ".join(f"{ms(row.median_s)} / {ms(row.slowest_s)}" for row in rows)
            print(f"| {name} | {rows[0].total:,} | {cells} | {read(rows[-1].reads)} |")


def read(stats: Stats | None) -> str:
    """What the double's server read for a page and its total."""
    if stats is None:
        return "-"
    scans = f", {stats.scans} collection scan" if stats.scans else ""
    return f"{stats.fetched:,} documents, {stats.sorted:,} sorted in memory{scans}"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--starts", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--mongomock-starts", type=int, nargs="+", default=[500, 1000, 2000])
    parser.add_argument(
        "--in-flight", type=int, nargs="+", default=[1, 100], help="starts at once, each in turn"
    )
    parser.add_argument("--stored", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
