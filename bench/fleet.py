"""Fleet benchmark: N chargers charging at once against a real Mosquitto, on a chosen store.

    uv run python -m bench.fleet --chargers 1000 --seconds 30 --cpu-affinity 0
    uv run python -m bench.fleet --chargers 10000 --store sqlite --cpu-affinity 0
    uv run python -m bench.fleet --chargers 10000 --active 1000 --stored 100000 --churn 5 --pages

The daemon runs in this process; the clients that drive and watch it run in a second process,
so that measuring takes no time from the daemon's event loop. The clients start every charger
through MQTT 5 request/response commands, wait `--warmup` seconds and then until updates arrive
within one tick of their reading (what the ramp queued is out), then for `--seconds` count the
`session/updates` that arrive while stopping and restarting a few chargers. The daemon's own
tick statistics (lag, duration, the store's share) are taken over the same window.

`--store` picks the daemon's store: `memory`, a fresh `sqlite` file, or `mongodb-double`, the
MongoDB store's code (`store/mongo.py`, PyMongo's request objects and BSON both ways) driven
against the driver double (tests/support/mongo_double.py), whose server runs in a process of
its own on a Unix socket (`bench.double`), started beside the broker and reported apart.
`--stored N` seeds N stopped sessions first (bench/seed.py); `--active M` starts only the first
M chargers; `--pages` times pages of 50 of the history over REST after the window. The churn
times each stop and start over MQTT and then over REST, and the commands that met one of the
daemon's flushes are shown apart from the others. The daemon's RSS is sampled every second of
the window, and after it a bare aiomqtt publish loop, in the same process on the same CPU,
publishes payloads of the size of a session update: the CPU per update of each.

`--cpu-affinity CPU` pins the daemon's process to that CPU and the broker, the clients and the
double's server process to the others, so "the daemon on one core" is what is measured. Only
loopback traffic; the run is bounded by its timeouts and stops by itself.
"""

import argparse
import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

import aiomqtt
from evcsm_daemon.runtime import Daemon
from evcsm_daemon.store.memory import MemoryStore, reset_memory
from evcsm_daemon.store.sqlite import SqliteStore
from evcsm_schema import SessionStatus, topics

from bench.clients import (
    ClientFailed,
    ClientReport,
    Message,
    Plan,
    Ramped,
    WindowOpened,
    run_clients,
)
from bench.double import on_double
from bench.machine import Machine
from bench.pipes import next_message
from bench.report import Baseline, FleetResult, Late, Snapshot, render, rss_bytes, thread_times
from bench.seed import AGE, into_memory, into_mongo_double, into_sqlite, stopped_sessions
from tests.support.broker import Mosquitto
from tests.support.daemon import daemon_settings, running_daemon
from tests.support.mongo_process import DoubleProcess

STORES = ("memory", "sqlite", "mongodb-double")
PAGE = "50"
BASELINE_MESSAGES = 20_000
"""Messages the bare aiomqtt loop publishes."""
PROBE_S = 0.005
"""The event-loop probe sleeps this long between two wake-ups (200 a second, ~1 % of a core)."""

SLACK_S = 30.0
"""Extra time allowed for a phase beyond its own timeouts before the run gives up."""


class BenchFailed(Exception):
    """The benchmark could not complete; the message says where."""


def charger_ids(count: int) -> tuple[str, ...]:
    """`CP0001` ... in configuration order."""
    return tuple(f"CP{number:04d}" for number in range(1, count + 1))


async def receive(conn: Connection) -> Message:
    """The next message from the client process, without blocking the event loop."""
    try:
        message = await next_message(conn)
    except EOFError:
        raise BenchFailed("the client process exited early") from None
    if isinstance(message, ClientFailed):
        raise BenchFailed(f"the clients failed: {message.reason}")
    if not isinstance(message, Ramped | WindowOpened | ClientReport):
        raise BenchFailed(f"the client process sent {message!r}")
    return message


async def expect(conn: Connection, phase: str, budget_s: float) -> Message:
    """The client process's report on `phase`, which must come within `budget_s`."""
    try:
        async with asyncio.timeout(budget_s):
            return await receive(conn)
    except TimeoutError:
        raise BenchFailed(f"{phase}: nothing from the clients in {budget_s:.0f} s") from None


@contextlib.contextmanager
def store_uri(kind: str, folder: Path, double: DoubleProcess | None) -> Iterator[str]:
    """The URI the daemon opens for `kind`; for `mongodb-double` the URI of the driver double's
    server process `double`, which `mongodb://` opens meanwhile."""
    if kind == "memory":
        yield "memory"
    elif kind == "sqlite":
        yield f"sqlite:{folder / 'sessions.db'}"
    elif double is None:
        raise BenchFailed("no driver double's server process was started")
    else:
        with on_double():
            yield double.uri()


async def double_status(double: DoubleProcess | None) -> tuple[float, int]:
    """CPU seconds the driver double's server process has spent so far, and its RSS in bytes
    (zeros without one)."""
    if double is None:
        return 0.0, 0
    database = double.database()
    try:
        status = await database.status()
    finally:
        await database.close()
    return status.process_s, status.rss_bytes


async def seed(
    kind: str, uri: str, double: DoubleProcess | None, ids: tuple[str, ...], count: int
) -> datetime:
    """Store `count` stopped sessions on `ids` before the daemon starts; the first one's start."""
    now = datetime.now(UTC)
    per_charger = -(-count // len(ids))
    first = now - AGE - timedelta(minutes=per_charger)
    if count == 0:
        return first
    sessions = stopped_sessions(ids, count, now)
    began = time.perf_counter()
    if kind == "memory":
        reset_memory()
        await into_memory(MemoryStore(), sessions)
    elif kind == "sqlite":
        store = SqliteStore(Path(uri.removeprefix("sqlite:")))
        await store.ensure_indexes()
        await store.close()
        into_sqlite(Path(uri.removeprefix("sqlite:")), sessions)
    elif double is not None:
        database = double.database()
        try:
            await into_mongo_double(database, sessions)
        finally:
            await database.close()
    progress(f"seeded {count:,} stopped sessions in {time.perf_counter() - began:.1f} s")
    return first


def history_pages(
    ids: tuple[str, ...], first: datetime, stored: int
) -> tuple[tuple[str, dict[str, str]], ...]:
    """Every filter the history offers, alone and together, a page of 50 each (REST params)."""
    per_charger = max(1, -(-stored // len(ids)))
    since = first + timedelta(minutes=per_charger // 2)
    window = {"since": since.isoformat(), "until": (since + timedelta(minutes=1)).isoformat()}
    charger = {"chargerId": ids[len(ids) // 2]}
    stopped, charging = {"status": SessionStatus.STOPPED.value}, {"status": "Charging"}
    deep = {"offset": str(stored // 2)}
    return tuple(
        (name, {"limit": PAGE} | params)
        for name, params in (
            ("newest 50", {}),
            ("chargerId", charger),
            ("status=Stopped", stopped),
            ("status=Charging", charging),
            ("since/until (1 min)", window),
            ("chargerId + since/until", charger | window),
            ("chargerId + Stopped", charger | stopped),
            (f"offset {stored // 2:,}", deep),
            (f"Stopped, offset {stored // 2:,}", stopped | deep),
        )
    )


async def sample_rss(samples: list[int], every_s: float = 1.0) -> None:
    """The process's RSS, once every `every_s`, until cancelled."""
    while True:
        samples.append(rss_bytes())
        await asyncio.sleep(every_s)


async def probe_loop(lates: list[Late], every_s: float = PROBE_S) -> None:
    """How late the event loop wakes a task that sleeps `every_s`, until cancelled (the longest
    stretch a command arriving at that moment would have waited for the loop), and what the
    loop's thread did meanwhile: ran (the daemon's own work) or waited for a CPU."""
    loop = asyncio.get_running_loop()
    ran, waited = thread_times()
    while True:
        due = loop.time() + every_s
        await asyncio.sleep(every_s)
        late = loop.time() - due
        now_ran, now_waited = thread_times()
        lates.append(Late(late, now_ran - ran, now_waited - waited))
        ran, waited = now_ran, now_waited


async def bare_publish_loop(port: int, payload: bytes, count: int) -> Baseline:
    """CPU of a bare aiomqtt loop publishing `count` copies of `payload` (QoS 0), one by one."""
    async with aiomqtt.Client("127.0.0.1", port, protocol=aiomqtt.ProtocolVersion.V5) as client:
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(count):
            await client.publish(topics.SEED_SESSION, payload, qos=0)
        return Baseline(count, time.process_time() - cpu, time.perf_counter() - wall, len(payload))


def watch_flushes(daemon: Daemon) -> list[tuple[float, float]]:
    """When each of the daemon's flushes starts and ends from now on (`time.perf_counter`:
    CLOCK_MONOTONIC, the clock the client process stamps its commands with)."""
    ticker = daemon.ticker
    assert ticker is not None  # noqa: S101 - set once the daemon is ready
    flush = ticker.flush
    flushes: list[tuple[float, float]] = []

    async def timed() -> float:
        started = time.perf_counter()
        try:
            return await flush()
        finally:
            flushes.append((started, time.perf_counter()))

    ticker.flush = timed  # type: ignore[method-assign]
    return flushes


def update_payload(daemon: Daemon) -> bytes:
    """One active session's update as the daemon publishes it (for the bare loop's size)."""
    assert daemon.service is not None  # noqa: S101 - set once the daemon is ready
    sessions = daemon.service.active_sessions()
    return (
        sessions[0].model_dump_json(by_alias=True, exclude_none=True).encode()
        if sessions
        else b"{}"
    )


async def measure(
    options: argparse.Namespace,
    broker: Mosquitto,
    cpus: frozenset[int] | None,
    double: DoubleProcess | None = None,
) -> FleetResult:
    """Seed the store, run the daemon with the fleet, drive it from the client process, collect
    the figures."""
    with (
        tempfile.TemporaryDirectory(prefix="evcsm-fleet-") as folder,
        store_uri(options.store, Path(folder), double) as uri,
    ):
        return await _measure(options, broker, cpus, uri, double)


async def _measure(
    options: argparse.Namespace,
    broker: Mosquitto,
    cpus: frozenset[int] | None,
    uri: str,
    double: DoubleProcess | None,
) -> FleetResult:
    ids = charger_ids(options.chargers)
    first = await seed(options.store, uri, double, ids, options.stored)
    settings = daemon_settings(
        broker.url,
        mongodb_uri=uri,
        chargers=",".join(f"{charger_id}:22" for charger_id in ids),
        sim_speed=1.0,
        tick_interval=options.tick_interval,
        session_updates=options.session_updates,
    )
    plan = Plan(
        port=broker.port,
        charger_ids=ids,
        in_flight=options.in_flight,
        command_timeout=options.command_timeout,
        ramp_timeout=options.ramp_timeout,
        warmup=options.warmup,
        settle_timeout=options.settle_timeout,
        fresh=options.tick_interval,
        seconds=options.seconds,
        churn_per_s=options.churn,
        cpus=cpus,
        active=options.active,
        pages=history_pages(ids, first, options.stored) if options.pages else (),
        session_updates=options.session_updates,
        listener_nice=options.listener_nice,
    )
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    machine = Machine.here()
    result: FleetResult | None = None
    rss: list[int] = []
    lates: list[Late] = []
    try:
        async with running_daemon(settings) as daemon:
            flushes = watch_flushes(daemon)
            plan = replace(plan, http_port=daemon.http_port)
            clients = context.Process(target=run_clients, args=(plan, theirs), name="bench-clients")
            clients.start()
            theirs.close()
            try:
                ramp = await expect(ours, "ramp", plan.ramp_timeout + SLACK_S)
                progress(f"ramp: {len(plan.started)} start commands in {_seconds(ramp)}")
                window_opened = await expect(
                    ours, "warm-up", plan.warmup + plan.settle_timeout + SLACK_S
                )
                server_cpu, _ = await double_status(double)
                opened = Snapshot.of(daemon)
                progress(f"window open for {plan.seconds:.0f} s")
                sampling = asyncio.create_task(sample_rss(rss), name="bench-rss")
                probing = asyncio.create_task(probe_loop(lates), name="bench-loop-probe")
                try:
                    report = await expect(
                        ours, "window", plan.seconds + plan.command_timeout + SLACK_S + 120
                    )
                finally:
                    sampling.cancel()
                    probing.cancel()
                closed = Snapshot.of(daemon)
                server_cpu_closed, server_rss = await double_status(double)
                server_cpu = server_cpu_closed - server_cpu
                payload = update_payload(daemon)
            finally:
                clients.join(timeout=10)
                if clients.is_alive():
                    clients.terminate()
                    clients.join()
            if not (
                isinstance(ramp, Ramped)
                and isinstance(window_opened, WindowOpened)
                and isinstance(report, ClientReport)
            ):
                raise BenchFailed("the clients reported out of order")
            assert daemon.ticker is not None  # noqa: S101 - set once the daemon is ready
            stats = daemon.ticker.stats
            window = slice(opened.ticks, closed.ticks)
            result = FleetResult(
                chargers=options.chargers,
                tick_interval=options.tick_interval,
                pinned_cpu=options.cpu_affinity,
                machine=machine,
                ramp=ramp,
                warmup=window_opened,
                clients=report,
                opened=opened,
                closed=closed,
                lags=list(stats.lags)[window],
                durations=list(stats.durations)[window],
                store_durations=list(stats.store_durations)[opened.flushes : closed.flushes],
                store=options.store,
                stored=options.stored,
                rss=rss,
                loop_lates=lates,
                store_server_cpu=server_cpu,
                store_server_rss=server_rss,
                session_updates=options.session_updates,
                listener_nice=options.listener_nice,
                flushes=list(flushes),
            )
            progress("window closed; stopping the daemon")
    except TimeoutError:
        if result is None:
            raise BenchFailed("the daemon did not get ready in time") from None
        progress("the daemon did not stop in time (a long tick was in progress); cancelled it")
    if result is None:
        raise BenchFailed("the run ended without figures")
    progress("the bare aiomqtt publish loop")
    return replace(
        result, baseline=await bare_publish_loop(broker.port, payload, BASELINE_MESSAGES)
    )


def _seconds(message: Message) -> str:
    return f"{message.seconds:.1f} s" if isinstance(message, Ramped) else "?"


def progress(line: str) -> None:
    """A progress line on stderr."""
    print(line, file=sys.stderr, flush=True)


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.fleet", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--chargers", type=int, default=1000, help="fleet size (1-99999)")
    parser.add_argument("--seconds", type=float, default=30.0, help="measuring window")
    parser.add_argument("--tick-interval", type=float, default=1.0, help="daemon meter tick (s)")
    parser.add_argument("--warmup", type=float, default=5.0, help="least pause after the ramp (s)")
    parser.add_argument(
        "--settle-timeout",
        type=float,
        default=60.0,
        help="most wait for fresh updates after it (s)",
    )
    parser.add_argument("--in-flight", type=int, default=100, help="start commands at once")
    parser.add_argument("--churn", type=float, default=1.0, help="stop+start pairs per second")
    parser.add_argument("--command-timeout", type=float, default=60.0, help="per command (s)")
    parser.add_argument("--ramp-timeout", type=float, default=300.0, help="all starts (s)")
    parser.add_argument("--cpu-affinity", type=int, metavar="CPU", help="pin the daemon to CPU")
    parser.add_argument("--store", choices=STORES, default="memory", help="the daemon's store")
    parser.add_argument("--stored", type=int, default=0, help="stopped sessions seeded first")
    parser.add_argument("--active", type=int, help="chargers started (default: all)")
    parser.add_argument("--pages", action="store_true", help="time history pages over REST")
    parser.add_argument(
        "--session-updates",
        choices=("all", "default", "off"),
        default="all",
        help="the daemon's EVCSM_SESSION_UPDATES",
    )
    parser.add_argument(
        "--listener-nice",
        type=int,
        default=0,
        choices=range(20),
        metavar="N",
        help="niceness of the listener process (0-19): 19 yields the broker's core to the broker",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    options = parser.parse_args(argv)
    if not 1 <= options.chargers <= 99999:
        parser.error("--chargers must be between 1 and 99999")
    if options.active is not None and not 1 <= options.active <= options.chargers:
        parser.error("--active must be between 1 and --chargers")
    if options.stored < 0:
        parser.error("--stored must not be negative")
    if options.seconds <= 0 or options.tick_interval <= 0 or options.in_flight < 1:
        parser.error("--seconds, --tick-interval and --in-flight must be positive")
    return options


def main(argv: list[str] | None = None) -> int:
    """Run one benchmark and print its table."""
    options = parse(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("mqtt").setLevel(logging.ERROR)  # aiomqtt counts pending QoS 1 publishes
    everywhere = frozenset(os.sched_getaffinity(0))
    others: frozenset[int] | None = None
    if options.cpu_affinity is not None:
        if options.cpu_affinity not in everywhere:
            progress(f"CPU {options.cpu_affinity} is not available: {sorted(everywhere)}")
            return 2
        others = everywhere - {options.cpu_affinity} or everywhere
        os.sched_setaffinity(0, others)  # the broker inherits this
    progress(f"fleet of {options.chargers}: starting broker and daemon")
    try:
        with Mosquitto() as broker, contextlib.ExitStack() as stack:
            double = None
            if options.store == "mongodb-double":  # beside the broker, off the daemon's CPU
                double = stack.enter_context(DoubleProcess(cpus=others))
            if options.cpu_affinity is not None:
                os.sched_setaffinity(0, {options.cpu_affinity})
            result = asyncio.run(measure(options, broker, others, double))
    except BenchFailed as exc:
        progress(f"benchmark failed: {exc}")
        return 1
    print(render(result))
    if options.json is not None:
        summary = asdict(result)
        summary["shortfalls"] = result.shortfalls()
        summary["late_delivery"] = result.late_delivery()
        options.json.write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
