"""OCPP load benchmark: N charge points metering against the central system in another process.

    uv run python -m bench.ocpp_load --stations 1000 --interval 10 --seconds 60
    uv run python -m bench.ocpp_load --daemon sqlite --stations 1000 --interval 10 --seconds 60

The central system runs in a child process, listening on loopback: bare, with a counting sink
(the recording fake of the tests), or with `--daemon memory|sqlite` the whole daemon (the
service, a real store, the MQTT bridge on a Mosquitto this benchmark starts, the REST API). With
the daemon, every register the charge points sent is checked in the store: once metering ends,
each open session's stored `meterWh` must be the last register its station sent (the flusher
stored it), and after StopTransaction the stopped session's must be its `meterStop`. This process simulates the charge points with a lean raw
WebSocket client (the `ocpp` package's ChargePoint validates every frame in a thread and logs
each one, which would make the simulator the bottleneck at 1,000 stations): each connects as
`ocpp1.6`, boots, reports a status, starts a transaction, then sends MeterValues every
`--interval` seconds (each station at its own phase) and answers the central system's calls.

Measured over `--seconds` once every station is metering: the CALL -> CALLRESULT round trip of
each MeterValues (p50, p99, max) and the central system process's CPU time (from /proc, so
Linux only). `--cpu-affinity` pins the central system to one CPU and the simulator to the
others. Loopback only; the run is bounded by its timeouts and stops by itself.
"""

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from evcsm_daemon.chargers.ocpp import CentralSystem, ChargePointList, OcppConfig
from evcsm_daemon.config import Settings
from evcsm_daemon.runtime import Daemon
from evcsm_schema import SessionQuery
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.daemon.ocpp.sink import RecordingSink
from tests.support.broker import Mosquitto

CALL_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 60.0
CONNECT_CONCURRENCY = 50
FLUSH_WAIT_S = 5.0
"""After metering ends, how long the daemon's flusher gets before the store is read."""


def raise_fd_limit() -> None:
    """Let one process hold a socket per station."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: PTH123, SIM115 - a one-shot read of a /proc file
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the central system's process ---------------------------------------------------------------


def serve(conn: Connection, cpu: int | None, daemon: dict[str, str] | None) -> None:
    """Child process: run the central system (or the daemon) until the parent says stop."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    raise_fd_limit()
    asyncio.run(_serve(conn) if daemon is None else _serve_daemon(conn, daemon))


async def _serve_daemon(conn: Connection, settings: dict[str, str]) -> None:
    """The whole daemon; answers "registers" with every stored session's register by station."""
    daemon = Daemon(Settings.model_validate(settings))
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop), name="bench-daemon")
    async with asyncio.timeout(60):
        await daemon.ready.wait()
    conn.send(daemon.ocpp_port)
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, conn.recv) == "registers":
        conn.send(await stored_registers(daemon))
    stop.set()
    await task
    conn.send(None)


async def stored_registers(daemon: Daemon) -> dict[str, tuple[str, int]]:
    """Charge point id -> (status, meterWh) of its latest stored session, read from the store."""
    assert daemon.store is not None  # noqa: S101 - the daemon is ready
    found: dict[str, tuple[str, int]] = {}
    offset = 0
    while True:
        page = await daemon.store.query(SessionQuery(limit=1000, offset=offset))
        for session in page.items:
            if session.charge_point_id is not None:
                found.setdefault(session.charge_point_id, (session.status.value, session.meter_wh))
        offset += len(page.items)
        if not page.items or offset >= page.total:
            return found


async def _serve(conn: Connection) -> None:
    sink = RecordingSink(record=False)
    config = OcppConfig(port=0, charge_points=ChargePointList.parse("*"), max_connections=10_000)
    async with CentralSystem(config, sink) as central:
        conn.send(central.port)
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    conn.send(sink.count)


# --- the simulated charge points ----------------------------------------------------------------


@dataclass
class Figures:
    """What the simulator saw."""

    boot: list[float] = field(default_factory=list)
    meter: list[float] = field(default_factory=list)
    failures: int = 0
    window_open: bool = False
    ready: int = 0
    all_ready: asyncio.Event = field(default_factory=asyncio.Event)
    metering: asyncio.Event = field(default_factory=asyncio.Event)
    end: float = float("inf")
    """Loop time at which the stations stop metering."""
    registers: dict[str, int] = field(default_factory=dict)
    """The last register each station sent and had answered."""
    done_metering: int = 0
    all_done_metering: asyncio.Event = field(default_factory=asyncio.Event)
    may_stop: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the stored registers were read: then the stations stop their transactions."""


class LeanStation:
    """A charge point that sends JSON frames and answers the central system's calls."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count()
        self.waiting: dict[str, asyncio.Future[list[Any]]] = {}

    async def read(self) -> None:
        """Resolve answers; accept every call of the central system."""
        async for message in self.ws:
            frame = json.loads(message)
            if frame[0] == 2:
                await self.ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))
            elif (future := self.waiting.pop(frame[1], None)) is not None:
                future.set_result(frame)

    async def call(self, action: str, payload: dict[str, Any]) -> tuple[list[Any], float]:
        """The answer and its round trip in seconds."""
        unique_id = str(next(self.ids))
        future = asyncio.get_running_loop().create_future()
        self.waiting[unique_id] = future
        sent = time.perf_counter()
        await self.ws.send(json.dumps([2, unique_id, action, payload]))
        async with asyncio.timeout(CALL_TIMEOUT_S):
            answer = await future
        return answer, time.perf_counter() - sent


def stamp() -> str:
    """Now as an OCPP date-time."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


async def station(
    url: str, number: int, *, plan: argparse.Namespace, gate: asyncio.Semaphore, figures: Figures
) -> None:
    """One charge point's life: connect, boot, start, meter until the window ends, stop."""
    identity = f"LOAD{number:05d}"
    async with gate:
        ws = await connect(
            f"{url}/{identity}", subprotocols=[Subprotocol("ocpp1.6")], open_timeout=60
        )
    async with ws:
        lean = LeanStation(ws)
        async with asyncio.TaskGroup() as group:
            reader = group.create_task(lean.read(), name=f"read-{identity}")
            _, took = await lean.call(
                "BootNotification", {"chargePointVendor": "bench", "chargePointModel": "lean"}
            )
            figures.boot.append(took)
            await lean.call(
                "StatusNotification",
                {"connectorId": 1, "errorCode": "NoError", "status": "Charging"},
            )
            answer, _ = await lean.call(
                "StartTransaction",
                {"connectorId": 1, "idTag": "BENCH", "meterStart": 0, "timestamp": stamp()},
            )
            transaction = answer[2]["transactionId"]
            figures.ready += 1
            if figures.ready == plan.stations:
                figures.all_ready.set()
            await figures.metering.wait()
            rng = random.Random(number)
            loop = asyncio.get_running_loop()
            next_at = loop.time() + rng.uniform(0, plan.interval)
            register = 0
            while next_at < figures.end:
                await asyncio.sleep(next_at - loop.time())
                next_at += plan.interval
                register += 30
                values = {
                    "connectorId": 1,
                    "transactionId": transaction,
                    "meterValue": [
                        {
                            "timestamp": stamp(),
                            "sampledValue": [
                                {"value": str(register), "unit": "Wh"},
                                {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"},
                                {"value": "55", "measurand": "SoC", "unit": "Percent"},
                            ],
                        }
                    ],
                }
                try:
                    _, took = await lean.call("MeterValues", values)
                except TimeoutError:
                    figures.failures += 1
                    continue
                figures.registers[identity] = register
                if figures.window_open:
                    figures.meter.append(took)
            figures.done_metering += 1
            if figures.done_metering == plan.stations:
                figures.all_done_metering.set()
            await figures.may_stop.wait()
            await lean.call(
                "StopTransaction",
                {"meterStop": register, "timestamp": stamp(), "transactionId": transaction},
            )
            reader.cancel()


async def drive(url: str, plan: argparse.Namespace, server_pid: int, ask: "Ask") -> dict[str, Any]:
    """Run the fleet; the figures of the measuring window, and what the store holds."""
    figures = Figures()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def measure() -> dict[str, float]:
        async with asyncio.timeout(plan.ramp_timeout):
            await figures.all_ready.wait()
        ramp_s = loop.time() - started
        figures.end = loop.time() + plan.warmup + plan.interval + plan.seconds
        figures.metering.set()
        await asyncio.sleep(plan.warmup + plan.interval)
        figures.window_open = True
        cpu0, wall0, own0 = cpu_seconds(server_pid), time.perf_counter(), time.process_time()
        await asyncio.sleep(plan.seconds)
        figures.window_open = False
        cpu1, wall1, own1 = cpu_seconds(server_pid), time.perf_counter(), time.process_time()
        await figures.all_done_metering.wait()
        await asyncio.sleep(FLUSH_WAIT_S)  # the flusher stores the last readings meanwhile
        open_registers = await ask("registers")
        figures.may_stop.set()
        return {
            "ramp_s": ramp_s,
            "cpu_s": cpu1 - cpu0,
            "window_s": wall1 - wall0,
            "client_cpu_s": own1 - own0,
            "open_registers": open_registers,
        }

    budget = plan.ramp_timeout + plan.warmup + plan.interval + plan.seconds + STOP_TIMEOUT_S
    async with asyncio.timeout(budget), asyncio.TaskGroup() as group:
        for number in range(plan.stations):
            group.create_task(
                station(url, number, plan=plan, gate=gate, figures=figures),
                name=f"station-{number}",
            )
        measured = await group.create_task(measure(), name="measure")
    return {**measured, "figures": figures}


class Ask:
    """Asks the child process a question through the pipe, without blocking the loop."""

    def __init__(self, conn: Connection, *, daemon: bool) -> None:
        self.conn = conn
        self.daemon = daemon

    async def __call__(self, question: str) -> Any:  # noqa: ANN401 - the child's answer, as sent
        if not self.daemon:
            return None
        self.conn.send(question)
        return await asyncio.get_running_loop().run_in_executor(None, self.conn.recv)


def compare(sent: dict[str, int], stored: dict[str, tuple[str, int]] | None, status: str) -> str:
    """How the stored registers match the sent ones: `all N exact`, or the first mismatches."""
    if stored is None:
        return "not checked (no store)"
    wrong = [
        f"{station}: sent {register}, stored {stored.get(station)}"
        for station, register in sorted(sent.items())
        if stored.get(station) != (status, register)
    ]
    return f"all {len(sent)} exact" if not wrong else f"{len(wrong)} differ: {wrong[:3]}"


def percentile(values: list[float], share: float) -> float:
    """The `share` quantile (0..1) of `values`."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    """Run one load and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stations", type=int, default=100)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between MeterValues")
    parser.add_argument("--seconds", type=float, default=60.0, help="measuring window")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--ramp-timeout", type=float, default=300.0)
    parser.add_argument("--cpu-affinity", type=int, default=None, help="CPU of the central system")
    parser.add_argument(
        "--daemon",
        choices=["memory", "sqlite"],
        default=None,
        help="run the whole daemon on this store (and a Mosquitto) instead of the bare central "
        "system",
    )
    plan = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        daemon: dict[str, str] | None = None
        if plan.daemon is not None:
            broker = stack.enter_context(Mosquitto())
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="evcsm-bench-"))
            store = "memory" if plan.daemon == "memory" else f"sqlite:{folder}/sessions.db"
            daemon = {
                "mqtt_url": broker.url,
                "store_uri": store,
                "http_addr": "127.0.0.1:0",
                "chargers": "",
                "ocpp_addr": "127.0.0.1:0",
                "ocpp_charge_points": "*",
                "ocpp_meter_interval": str(int(plan.interval)),
                "log_level": "WARNING",
            }
        return run(plan, daemon)


def run(plan: argparse.Namespace, daemon: dict[str, str] | None) -> int:
    """One load against the central system or the daemon; prints its figures."""
    raise_fd_limit()
    if plan.cpu_affinity is not None:
        others = set(range(os.cpu_count() or 1)) - {plan.cpu_affinity}
        if others:
            os.sched_setaffinity(0, others)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    server = context.Process(
        target=serve, args=(theirs, plan.cpu_affinity, daemon), name="ocpp-server"
    )
    server.start()
    try:
        if not ours.poll(60):
            print("the central system did not start", file=sys.stderr)
            return 1
        port = ours.recv()
        assert server.pid is not None  # noqa: S101 - started above
        ask = Ask(ours, daemon=daemon is not None)
        result = asyncio.run(drive(f"ws://127.0.0.1:{port}/ocpp", plan, server.pid, ask))
        stopped = None
        if daemon is not None:
            ours.send("registers")
            stopped = ours.recv() if ours.poll(STOP_TIMEOUT_S) else None
        ours.send("stop")
        events = ours.recv() if ours.poll(STOP_TIMEOUT_S) else None
    finally:
        server.join(STOP_TIMEOUT_S)
        if server.is_alive():
            server.kill()
    figures: Figures = result["figures"]
    meter_ms = [1000 * took for took in figures.meter]
    rate = len(meter_ms) / result["window_s"]
    report = {
        "target": f"daemon ({plan.daemon} store)" if plan.daemon else "central system",
        "stations": plan.stations,
        "interval_s": plan.interval,
        "ramp_s": round(result["ramp_s"], 1),
        "boot_ms_p50": round(1000 * statistics.median(figures.boot), 2),
        "boot_ms_p99": round(1000 * percentile(figures.boot, 0.99), 2),
        "meter_values": len(meter_ms),
        "meter_values_per_s": round(rate, 1),
        "meter_ms_p50": round(percentile(meter_ms, 0.5), 2),
        "meter_ms_p99": round(percentile(meter_ms, 0.99), 2),
        "meter_ms_max": round(max(meter_ms, default=float("nan")), 2),
        "timeouts": figures.failures,
        "server_cpu_percent": round(100 * result["cpu_s"] / result["window_s"], 1),
        "server_cpu_us_per_meter_values": round(1e6 * result["cpu_s"] / max(1, len(meter_ms)), 0),
        "simulator_cpu_percent": round(100 * result["client_cpu_s"] / result["window_s"], 1),
        "events_in_sink": events,
        "stored_while_open": compare(figures.registers, result["open_registers"], "Charging"),
        "stored_after_stop": compare(figures.registers, stopped, "Stopped"),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
