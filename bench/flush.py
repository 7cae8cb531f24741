"""Flush benchmark: how long a flush holds the store at once, and what a call made meanwhile waits.

    uv run python -m bench.flush --cpu-affinity 0
    uv run python -m bench.flush --store sqlite --active 1000 --slices 0 500 250 --flushes 20
    uv run python -m bench.flush --store sqlite --slices 250 --checkpoints inline thread

A flush writes one reading of every active session in slices: on SQLite `flush_slice` readings
per statement and transaction, each a job of its own on the store's one thread; on MongoDB
`flush_batch` requests per bulk write, each built and encoded on the event loop. A call that
comes meanwhile waits for what holds the store: the thread running a slice, or the loop
building a batch. `--slices 0` is the whole flush at once.

Per store (a SQLite file; the MongoDB store's code on the driver double of
tests/support/mongo_double.py, its server a process of its own on a Unix socket), `--stored` stopped
sessions and `--active` charging ones on 10,000 chargers, then for each slice size `--flushes`
flushes of a new reading of every active session, in a shuffled order (the fleet's after a day
of starts and stops). For each it prints:

- how long one slice holds the store: the slice's job on SQLite's thread, from its first
  statement to its COMMIT's return; on MongoDB the event loop from the flush's (or the last
  reply's) resumption until the batch is sent (the double's server process's CPU over the
  flushes is printed apart, per batch);
- the flush's duration;
- a probe that, every half millisecond, asks the store for a charger's active session (the read
  a stop begins with), timed from when it was due until its answer: the calls that met a flush,
  and those that met none (the floor: the event loop's timer granularity). Calls that met the
  benchmark making the next flush's readings are left out;
- a second probe that, every COMMAND_GAP_S, starts or stops a session on a charger of its own
  (each a durable commit, as a command's), timed and split in the same way.

`--checkpoints` picks who checkpoints SQLite's write-ahead log: `thread`, the store's own
checkpointer (`store.checkpoint`), or `inline`, SQLite's automatic checkpoint inside whichever
commit passes 1,000 pages, a slice's or a command's (the store before the checkpointer). Each
row prints the checkpoints run by the checkpointer, or by the commits (counted from the
write-ahead log's index: the pages copied into the database file went up during the commit).

SQLite files go in a temporary folder; nothing else is touched.
"""

import argparse
import asyncio
import contextlib
import functools
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from evcsm_daemon import heap
from evcsm_daemon.core.sessions import MeterReading, begin, finish, observe
from evcsm_daemon.store import SessionStore
from evcsm_daemon.store.checkpoint import Checkpointer
from evcsm_daemon.store.documents import with_id
from evcsm_daemon.store.mongo import MongoStore
from evcsm_daemon.store.sqlite import SqliteStore
from evcsm_schema import ChargingSession

from bench.seed import into_mongo_double, into_sqlite, stopped_sessions
from bench.stats import Spread, ms
from tests.support.mongo_double import Database
from tests.support.mongo_process import DoubleProcess
from tests.support.mongo_wire import Remote

T = TypeVar("T")
CHARGERS = 10_000
PROBE_GAP_S = 0.0005
PAUSE_S = 0.05
"""Between two flushes: the probe's calls then measure the floor."""
IDLE, PREPARING, FLUSHING = "idle", "preparing", "flushing"
"""What the benchmark is doing: nothing, making a flush's readings, or flushing them."""
COMMAND_GAP_S = 0.01
"""Between two commands of the command probe."""
INLINE, THREAD = "inline", "thread"
"""Who checkpoints a SQLite file: its writing connection inside its commits, or the checkpointer."""


@dataclass(frozen=True)
class Row:
    """One store, one fleet, one slice size."""

    store: str
    active: int
    size: int
    holds: Spread
    flushes: Spread
    waits: Spread
    idle: Spread
    commands: Spread
    commands_idle: Spread
    server_per_batch_s: float | None
    checkpoints: str = "-"


class Phases:
    """What the benchmark has done so far, in order (IDLE, PREPARING, FLUSHING)."""

    def __init__(self) -> None:
        self.seen = [IDLE]

    def enter(self, phase: str) -> None:
        """The benchmark moves on to `phase`."""
        self.seen.append(phase)


class Probe:
    """Makes a call every `gap_s` and times each from when it was due until its answer: apart
    those that met a flush, and those that met nothing (the floor). Calls that met the
    benchmark's own work (making the next flush's readings) are left out."""

    def __init__(self, phases: Phases, call: Callable[[], Awaitable[object]], gap_s: float) -> None:
        self.phases = phases
        self.call = call
        self.gap_s = gap_s
        self.during: list[float] = []
        self.idle: list[float] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, first = loop.time() + self.gap_s, len(self.phases.seen) - 1
            await asyncio.sleep(self.gap_s)
            await self.call()
            took = loop.time() - due
            met = set(self.phases.seen[first:])
            if PREPARING not in met:
                (self.during if FLUSHING in met else self.idle).append(took)


def reads(store: SessionStore, charger_ids: Sequence[str]) -> Callable[[], Awaitable[object]]:
    """A charger's active session, a random one each call: the read a stop begins with."""
    rng = random.Random(1)
    return lambda: store.active(rng.choice(charger_ids))


def commands(store: SessionStore, charger_id: str) -> Callable[[], Awaitable[object]]:
    """A start of a session on `charger_id`, then its stop, and so on: one commit each."""
    session: ChargingSession | None = None

    async def command() -> None:
        nonlocal session
        now = datetime.now(UTC)
        if session is None:
            session, _ = await store.insert_active(begin(charger_id, 0, now))
        else:
            await store.finish(finish(session, MeterReading(session.meter_wh + 10, 0), now, None))
            session = None

    return command


class Holds:
    """How long each slice held the store: SQLite's thread, or the event loop for a batch."""

    def __init__(self) -> None:
        self.resumed = 0.0
        self.held: list[float] = []

    def resume(self) -> None:
        """The flush runs again (it starts, or a batch's reply came)."""
        self.resumed = time.perf_counter()

    def suspend(self) -> None:
        """The flush waits (for a batch's reply): it held the event loop since it resumed."""
        self.held.append(time.perf_counter() - self.resumed)


class TimedCheckpointer(Checkpointer):
    """The store's checkpointer, each checkpoint timed."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.took: list[float] = []

    def _checkpoint(self) -> None:
        started = time.perf_counter()
        try:
            super()._checkpoint()
        finally:
            self.took.append(time.perf_counter() - started)


class InlineCheckpoints(TimedCheckpointer):
    """No checkpointer: the store's connection checkpoints inside its commits, as SQLite does
    by default (`wal_autocheckpoint = 1000`, set by `TimedSqliteStore`); `took` times the
    jobs whose commit ran one."""

    def poke(self) -> None:
        """Nothing to do: the commits checkpoint."""


def copied_pages(conn: sqlite3.Connection) -> int:
    """The write-ahead log's pages copied into the database file so far (`nBackfill` of the
    log's index, the `-shm` file: sqlite.org/walformat.html); it goes up only in a checkpoint
    and back to 0 when the log starts over."""
    shm = Path(conn.execute("PRAGMA database_list").fetchone()[2] + "-shm")
    with shm.open("rb") as index:
        return int.from_bytes(index.read(100)[96:100], sys.byteorder)


class TimedSqliteStore(SqliteStore):
    """The SQLite store, each slice's job on its thread timed; with `inline` checkpoints the
    store's connection runs them inside its commits, each counted."""

    def __init__(self, path: Path, *, flush_slice: int, holds: Holds, checkpoints: str) -> None:
        inline = checkpoints == INLINE
        super().__init__(
            path,
            flush_slice=flush_slice,
            checkpoints=InlineCheckpoints(path) if inline else TimedCheckpointer(path),
        )
        self.timed: TimedCheckpointer = self.checkpoints  # type: ignore[assignment]
        self.holds = holds
        self.inline = inline
        self.autocheckpoint = False

    def _with_connection(self, job: Callable[[sqlite3.Connection], T]) -> T:
        started = time.perf_counter()
        try:
            return super()._with_connection(functools.partial(self._counted, job))
        finally:
            if getattr(getattr(job, "func", None), "__name__", "") == "_save_readings":
                self.holds.held.append(time.perf_counter() - started)

    def _counted(self, job: Callable[[sqlite3.Connection], T], conn: sqlite3.Connection) -> T:
        """`job`, and whether the pages copied went up meanwhile: read either way, so that both
        cost the same; only `inline` counts them (the checkpointer's thread copies pages while
        the store's thread runs its jobs)."""
        if self.inline and not self.autocheckpoint:
            conn.execute("PRAGMA wal_autocheckpoint = 1000")
            self.autocheckpoint = True
        before, started = copied_pages(conn), time.perf_counter()
        try:
            return job(conn)
        finally:
            if copied_pages(conn) > before and self.inline:
                self.timed.took.append(time.perf_counter() - started)

    def checkpoints_run(self) -> str:
        """How many checkpoints ran, where, and how long each took (inline: the whole job
        whose commit ran it)."""
        took = Spread.of(self.timed.took)
        where = "in commits" if self.inline else "on its thread"
        return f"{took.count} {where}, {ms(took.p50)} / {ms(took.max)}"


class TimedLink(Remote):
    """The link to the double's server: a bulk write's request sent lets go of the event loop
    until its reply comes, as a driver waits for a server."""

    def __init__(self, path: str, holds: Holds) -> None:
        super().__init__(path)
        self.holds = holds

    def sent(self, command: Mapping[str, Any]) -> None:
        if next(iter(command)) == "update":  # a bulk write's
            self.holds.suspend()

    def received(self, command: Mapping[str, Any]) -> None:
        if next(iter(command)) == "update":
            self.holds.resume()


def fleet(active: int, now: datetime) -> list[ChargingSession]:
    """`active` charging sessions on the first chargers, each with its `id` (insertion order)."""
    return [with_id(begin(f"CP{k}", 1000, now)) for k in range(active)]


@dataclass(frozen=True)
class Probes:
    """What `measure` found."""

    flushes: Spread
    reads: Spread
    reads_idle: Spread
    commands: Spread
    commands_idle: Spread
    serving_s: float


async def measure(
    kind: str,
    store: SessionStore,
    sessions: list[ChargingSession],
    *,
    size: int,
    flushes: int,
    holds: Holds,
    double: Database | None = None,
) -> Probes:
    """Flushes of `sessions` with both probes running: flush durations, the reads and the
    commands (each: during a flush, idle), and the CPU of the double's server process during the
    flushes (the probes' calls included)."""
    ids = [f"CP{k}" for k in range(CHARGERS)]
    phases = Phases()
    probe = Probe(phases, reads(store, ids), PROBE_GAP_S)
    commanding = Probe(phases, commands(store, "CP-probe"), COMMAND_GAP_S)
    took: list[float] = []
    serving = 0.0
    rng = random.Random(size)
    async with asyncio.TaskGroup() as group:
        probing = group.create_task(probe.run(), name=f"probe-{kind}-{size}")
        commanding_task = group.create_task(commanding.run(), name=f"commands-{kind}-{size}")
        await asyncio.sleep(PAUSE_S)
        for k in range(flushes):
            phases.enter(PREPARING)
            at = sessions[0].start_time + timedelta(seconds=k + 1)
            readings = [observe(s, MeterReading(2000 + k, 7.4), at) for s in sessions]
            rng.shuffle(readings)
            phases.enter(IDLE)
            await asyncio.sleep(PAUSE_S)
            phases.enter(FLUSHING)
            served = (await double.status()).process_s if double is not None else 0.0
            started = time.perf_counter()
            holds.resume()
            await store.save_readings(readings)
            took.append(time.perf_counter() - started)
            phases.enter(IDLE)
            if double is not None:
                serving += (await double.status()).process_s - served
        probing.cancel()
        commanding_task.cancel()
    for session in rng.sample(sessions, min(len(sessions), 100)):
        stored = await store.get(session.session_id)
        if stored.meter_wh != 2000 + flushes - 1:
            raise RuntimeError(f"{kind}: {session.session_id} holds {stored.meter_wh} Wh")
    return Probes(
        Spread.of(took),
        Spread.of(probe.during),
        Spread.of(probe.idle),
        Spread.of(commanding.during),
        Spread.of(commanding.idle),
        serving,
    )


@contextlib.asynccontextmanager
async def sqlite_fleet(
    folder: Path, stored: int, active: int
) -> AsyncIterator[tuple[Path, list[ChargingSession]]]:
    """A SQLite file with `stored` stopped sessions and `active` charging ones."""
    path = folder / f"flush-{active}.db"
    store = SqliteStore(path)
    await store.ensure_indexes()
    await store.close()
    ids = tuple(f"CP{k}" for k in range(CHARGERS))
    now = datetime.now(UTC)
    into_sqlite(path, stopped_sessions(ids, stored, now))
    sessions = fleet(active, now)
    into_sqlite(path, iter(sessions))
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the seed's log, as a daemon finds it
    heap.settle()  # as the daemon does once started
    yield path, sessions


async def run_sqlite(args: argparse.Namespace, folder: Path, active: int) -> list[Row]:
    rows = []
    async with sqlite_fleet(folder, args.stored, active) as (path, sessions):
        for size in args.slices:
            for checkpoints in args.checkpoints:
                holds = Holds()
                store = TimedSqliteStore(
                    path, flush_slice=size or active, holds=holds, checkpoints=checkpoints
                )
                await store.ensure_indexes()
                try:
                    found = await measure(
                        "sqlite", store, sessions, size=size, flushes=args.flushes, holds=holds
                    )
                finally:
                    await store.close()
                rows.append(
                    Row(
                        f"SQLite, checkpoints {checkpoints}",
                        active,
                        size,
                        Spread.of(holds.held),
                        found.flushes,
                        found.reads,
                        found.reads_idle,
                        found.commands,
                        found.commands_idle,
                        None,
                        store.checkpoints_run(),
                    )
                )
    return rows


async def run_mongo(args: argparse.Namespace, active: int) -> list[Row]:
    rows = []
    ids = tuple(f"CP{k}" for k in range(CHARGERS))
    now = datetime.now(UTC)
    sessions = fleet(active, now)
    with DoubleProcess(cpus=args.server_cpus) as double:
        seeding = double.database()
        try:
            await into_mongo_double(seeding, stopped_sessions(ids, args.stored, now))
            await into_mongo_double(seeding, iter(sessions))
        finally:
            await seeding.close()
        heap.settle()  # as the daemon does once started
        for size in args.slices:
            holds = Holds()
            database = Database(link=TimedLink(double.path, holds))
            store = MongoStore(database, close=database.close, flush_batch=size or active)
            await store.ensure_indexes()  # the double answers from the indexes the store makes
            try:
                found = await measure(
                    "mongodb",
                    store,
                    sessions,
                    size=size,
                    flushes=args.flushes,
                    holds=holds,
                    double=database,
                )
            finally:
                await store.close()
            held = Spread.of(holds.held)
            rows.append(
                Row(
                    "MongoDB double",
                    active,
                    size,
                    held,
                    found.flushes,
                    found.reads,
                    found.reads_idle,
                    found.commands,
                    found.commands_idle,
                    found.serving_s / held.count,
                )
            )
    return rows


def print_header() -> None:
    print(
        "| store | active | slice | one slice holds p50 / p99 / max | flush p50 / max"
        " | a call during a flush: n, p50 / p99 / max | a call between flushes: p50 / p99 / max"
        " | a command during a flush: n, p50 / p99 / max | a command between flushes: n, p50 /"
        " p99 / max | checkpoints | double's server per batch |"
    )
    print("|---|---:|---:|---|---|---|---|---|---|---|---|", flush=True)


def print_row(row: Row) -> None:
    server = ms(row.server_per_batch_s) if row.server_per_batch_s is not None else "-"
    print(
        f"| {row.store} | {row.active:,} | {row.size or 'all'} | {row.holds.ms()} |"
        f" {ms(row.flushes.p50)} / {ms(row.flushes.max)} |"
        f" {row.waits.count}, {row.waits.ms()} | {row.idle.ms()} |"
        f" {row.commands.count}, {row.commands.ms()} |"
        f" {row.commands_idle.count}, {row.commands_idle.ms()} | {row.checkpoints} | {server} |",
        flush=True,
    )


async def main(args: argparse.Namespace) -> None:
    if args.cpu_affinity is not None:
        everywhere = os.sched_getaffinity(0)
        args.server_cpus = frozenset(everywhere - {args.cpu_affinity} or everywhere)
        os.sched_setaffinity(0, {args.cpu_affinity})
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print_header()
    with tempfile.TemporaryDirectory(prefix="evcsm-bench-flush-") as tmp:
        for active in args.active:
            rows: list[Row] = []
            if "sqlite" in args.store:
                rows += await run_sqlite(args, Path(tmp), active)
            if "mongodb-double" in args.store:
                rows += await run_mongo(args, active)
            for row in rows:
                print_row(row)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--store", nargs="+", default=["sqlite", "mongodb-double"])
    parser.add_argument("--stored", type=int, default=100_000)
    parser.add_argument("--active", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument(
        "--slices", type=int, nargs="+", default=[0, 1000, 500, 250, 100, 50], help="0: all"
    )
    parser.add_argument("--flushes", type=int, default=10)
    parser.add_argument(
        "--checkpoints",
        nargs="+",
        choices=[INLINE, THREAD],
        default=[THREAD],
        help="SQLite: who checkpoints the log (inline: inside the commits, as before)",
    )
    parser.add_argument(
        "--cpu-affinity",
        type=int,
        default=None,
        help="pin to this CPU (the double's server process to the others)",
    )
    options = parser.parse_args(argv)
    options.server_cpus = None
    return options


if __name__ == "__main__":
    asyncio.run(main(parse()))
