"""Fleet benchmark: N chargers charging at once against a real Mosquitto, on the memory store.

    uv run python -m bench.fleet --chargers 1000 --seconds 30 --cpu-affinity 0

The daemon runs in this process; the clients that drive and watch it run in a second process,
so that measuring takes no time from the daemon's event loop. The clients start every charger
through MQTT 5 request/response commands, wait `--warmup` seconds and then until updates arrive
within one tick of their reading (what the ramp queued is out), then for `--seconds` count the
`session/updates` that arrive while stopping and restarting a few chargers. The daemon's own
tick statistics (lag, duration, the store's share) are taken over the same window.

`--cpu-affinity CPU` pins the daemon's process to that CPU and the broker and the clients to
the others, so "the daemon on one core" is what is measured. Only loopback traffic; the run is
bounded by its timeouts and stops by itself.
"""

import argparse
import asyncio
import json
import logging
import multiprocessing
import os
import sys
from dataclasses import asdict
from multiprocessing.connection import Connection
from pathlib import Path

from bench.clients import (
    ClientFailed,
    ClientReport,
    Message,
    Plan,
    Ramped,
    WindowOpened,
    run_clients,
)
from bench.machine import Machine
from bench.report import FleetResult, Snapshot, render
from tests.support.broker import Mosquitto
from tests.support.daemon import daemon_settings, running_daemon

SLACK_S = 30.0
"""Extra time allowed for a phase beyond its own timeouts before the run gives up."""


class BenchFailed(Exception):
    """The benchmark could not complete; the message says where."""


def charger_ids(count: int) -> tuple[str, ...]:
    """`CP0001` ... in configuration order."""
    return tuple(f"CP{number:04d}" for number in range(1, count + 1))


async def receive(conn: Connection) -> Message:
    """The next message from the client process, without blocking the event loop."""
    loop = asyncio.get_running_loop()
    readable = asyncio.Event()
    loop.add_reader(conn.fileno(), readable.set)
    try:
        while not conn.poll():
            readable.clear()
            await readable.wait()
        message: Message = conn.recv()
    except EOFError:
        raise BenchFailed("the client process exited early") from None
    finally:
        loop.remove_reader(conn.fileno())
    if isinstance(message, ClientFailed):
        raise BenchFailed(f"the clients failed: {message.reason}")
    return message


async def expect(conn: Connection, phase: str, budget_s: float) -> Message:
    """The client process's report on `phase`, which must come within `budget_s`."""
    try:
        async with asyncio.timeout(budget_s):
            return await receive(conn)
    except TimeoutError:
        raise BenchFailed(f"{phase}: nothing from the clients in {budget_s:.0f} s") from None


async def measure(
    options: argparse.Namespace, broker: Mosquitto, cpus: frozenset[int] | None
) -> FleetResult:
    """Run the daemon with the fleet, drive it from the client process, collect the figures."""
    ids = charger_ids(options.chargers)
    settings = daemon_settings(
        broker.url,
        chargers=",".join(f"{charger_id}:22" for charger_id in ids),
        sim_speed=1.0,
        tick_interval=options.tick_interval,
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
    )
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    clients = context.Process(target=run_clients, args=(plan, theirs), name="bench-clients")
    machine = Machine.here()
    result: FleetResult | None = None
    try:
        async with running_daemon(settings) as daemon:
            clients.start()
            theirs.close()
            try:
                ramp = await expect(ours, "ramp", plan.ramp_timeout + SLACK_S)
                progress(f"ramp: {options.chargers} start commands in {_seconds(ramp)}")
                window_opened = await expect(
                    ours, "warm-up", plan.warmup + plan.settle_timeout + SLACK_S
                )
                opened = Snapshot.of(daemon)
                progress(f"window open for {plan.seconds:.0f} s")
                report = await expect(ours, "window", plan.seconds + plan.command_timeout + SLACK_S)
                closed = Snapshot.of(daemon)
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
            )
            progress("window closed; stopping the daemon")
    except TimeoutError:
        if result is None:
            raise BenchFailed("the daemon did not get ready in time") from None
        progress("the daemon did not stop in time (a long tick was in progress); cancelled it")
    return result


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
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    options = parser.parse_args(argv)
    if not 1 <= options.chargers <= 99999:
        parser.error("--chargers must be between 1 and 99999")
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
        with Mosquitto() as broker:
            if options.cpu_affinity is not None:
                os.sched_setaffinity(0, {options.cpu_affinity})
            result = asyncio.run(measure(options, broker, others))
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
