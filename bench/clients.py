"""The fleet benchmark's client side, run in processes of their own so they take no time from
the daemon.

This process is the commander: an MQTT 5 client that makes request/response calls on
`evcsm/chargers/{id}/cmd/{start|stop}` and times each round trip, as an operator's tool would,
and REST calls when the daemon's port is known. It starts the listener (bench/listener.py), a
process of its own that receives `session/updates` and `evcsm/fleet/updates`, and reports to the
benchmark through a pipe: `Ramped` once every charger was asked to start, then `WindowOpened`
and, `seconds` later, `ClientReport`, what both saw.
"""

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
import multiprocessing
import os
import random
import time
import uuid
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TypeVar

import httpx
from evcsm_link.client import MqttClient, MqttError, ProtocolVersion, connect
from evcsm_link.requests import Requester
from evcsm_schema import CommandAction, topics
from evcsm_schema.broker import BrokerUrl

from bench.listener import (
    Close,
    Heard,
    ListenerFailed,
    ListenerPlan,
    Open,
    Settle,
    Settled,
    Subscribed,
    run_listener,
)
from bench.pipes import next_message

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Plan:
    """What the client process does."""

    port: int
    charger_ids: tuple[str, ...]
    in_flight: int
    """Start commands outstanding at once during the ramp."""
    command_timeout: float
    ramp_timeout: float
    warmup: float
    """Least seconds between the end of the ramp and the measuring window."""
    settle_timeout: float
    """Most seconds to wait after `warmup` for updates to arrive fresh (the backlog drained)."""
    fresh: float
    """An update is fresh when it arrives within this many seconds of its reading."""
    seconds: float
    churn_per_s: float
    """Stop-then-start pairs per second during the window."""
    cpus: frozenset[int] | None
    seed: int = 1
    active: int | None = None
    """How many of `charger_ids` (the first ones) to start; all when None."""
    http_port: int = 0
    """The daemon's REST port: the churn times REST stops and starts as well when set."""
    pages: tuple[tuple[str, dict[str, str]], ...] = ()
    """History queries (name, REST query parameters) timed after the window."""
    page_runs: int = 20
    session_updates: str = "all"
    """The daemon's `EVCSM_SESSION_UPDATES`: with `all` the window opens once `session/updates`
    arrive fresh, otherwise once `evcsm/fleet/updates` do."""
    listener_nice: int = 0
    """Niceness added to the listener process (bench/listener.py)."""

    @property
    def started(self) -> tuple[str, ...]:
        """The chargers the ramp starts."""
        return self.charger_ids[: self.active] if self.active else self.charger_ids


@dataclass(frozen=True, slots=True)
class Ramped:
    """Every charger was asked to start: round trips of the start commands."""

    round_trips: list[float]
    failed: int
    seconds: float


@dataclass(frozen=True, slots=True)
class WindowOpened:
    """The measuring window starts now."""

    waited: float
    """Seconds from the end of the ramp to now."""
    settled: bool
    """Whether updates were arriving fresh by now."""


@dataclass(frozen=True, slots=True)
class ClientReport:
    """What the clients saw during the window."""

    seconds: float
    updates: int
    per_second: list[int]
    gaps: list[float]
    """Between consecutive updates of one session (the tick period a client sees)."""
    latencies: list[float]
    """From a reading's timestamp to its arrival at the listener."""
    stop_round_trips: list[float]
    start_round_trips: list[float]
    churn_failed: int
    cpu_seconds: float
    """Of the commanding and the listening process together."""
    rest_stop_round_trips: list[float] = field(default_factory=list)
    rest_start_round_trips: list[float] = field(default_factory=list)
    churn_sent: list[tuple[float, float]] = field(default_factory=list)
    """(sent at, round trip) of every churn command, on the daemon's clock too (`Churn.sent`)."""
    pages: dict[str, list[float]] = field(default_factory=dict)
    """Per history query, each run's time from request to the last byte of its reply."""
    page_totals: dict[str, int] = field(default_factory=dict)
    fleet_messages: int = 0
    """`evcsm/fleet/updates` messages (tick parts) received in the window."""
    fleet_latencies: list[float] = field(default_factory=list)
    """From each reading's timestamp to the arrival of the fleet message that carried it."""
    fleet_ticks: list[int] = field(default_factory=list)
    """Readings per tick received whole (every part), in tick order; a tick cut by the window's
    edges is left out."""


@dataclass(frozen=True, slots=True)
class ClientFailed:
    """The client process could not carry on."""

    reason: str


Message = Ramped | WindowOpened | ClientReport | ClientFailed


def run_clients(plan: Plan, conn: Connection) -> None:
    """Process entry point: drive the fleet and report through `conn`."""
    if plan.cpus:
        os.sched_setaffinity(0, plan.cpus)
    logging.getLogger("mqtt").setLevel(logging.ERROR)  # aiomqtt counts pending QoS 1 publishes
    try:
        asyncio.run(_drive(plan, conn))
    except* (MqttError, httpx.HTTPError, OSError, TimeoutError) as group:
        first: BaseException = group
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        conn.send(ClientFailed(f"{type(first).__name__}: {first}"))
    finally:
        conn.close()


async def _drive(plan: Plan, conn: Connection) -> None:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    listening = context.Process(
        target=run_listener,
        args=(
            ListenerPlan(
                port=plan.port,
                fresh=plan.fresh,
                by_fleet=plan.session_updates != "all",
                cpus=plan.cpus,
                nice=plan.listener_nice,
            ),
            theirs,
        ),
        name="bench-listener",
    )
    listening.start()
    theirs.close()
    try:
        await _hear(ours, Subscribed, plan.ramp_timeout)
        await _command(plan, conn, ours)
    finally:
        ours.close()
        listening.join(timeout=10)
        if listening.is_alive():
            listening.terminate()
            listening.join()


async def _command(plan: Plan, conn: Connection, listener: Connection) -> None:
    identifier = f"bench-commander-{uuid.uuid4().hex[:6]}"
    address = BrokerUrl("127.0.0.1", plan.port)
    async with connect(address, identifier, version=ProtocolVersion.V5) as command_client:
        commander = Commander(command_client, plan.command_timeout)
        await commander.subscribe()
        async with asyncio.TaskGroup() as group:
            replies = group.create_task(commander.consume(), name="bench-replies")
            conn.send(await _ramp(plan, commander))
            ramped = time.perf_counter()
            await asyncio.sleep(plan.warmup)
            settled = await _settle(plan, listener)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{plan.http_port}") as http:
                if plan.http_port:
                    # The client's first request loads its transport and opens the
                    # connection (~100 ms): made here, it is not counted as a command's.
                    await http.get("/healthz")
                cpu = time.process_time()
                listener.send(Open())
                conn.send(WindowOpened(waited=time.perf_counter() - ramped, settled=settled))
                churn = await _churn(plan, commander, http)
                commanding_cpu = time.process_time() - cpu
                listener.send(Close())
                heard = await _hear(listener, Heard, plan.settle_timeout + 60)
                report = _report(heard, churn, commanding_cpu)
                if plan.pages:
                    pages, totals = await _pages(plan, http)
                    report = dataclasses.replace(report, pages=pages, page_totals=totals)
            conn.send(report)
            replies.cancel()


async def _hear(listener: Connection, kind: type[T], budget_s: float) -> T:
    """The listener's next message, which must be a `kind` and come within `budget_s`."""
    async with asyncio.timeout(budget_s):
        message = await next_message(listener)
    if isinstance(message, ListenerFailed):
        raise OSError(f"the listener failed: {message.reason}")
    if not isinstance(message, kind):
        raise OSError(f"the listener sent {message!r}, not {kind.__name__}")
    return message


def _report(heard: Heard, churn: "Churn", commanding_cpu: float) -> ClientReport:
    return ClientReport(
        seconds=heard.seconds,
        updates=heard.updates,
        per_second=heard.per_second,
        gaps=heard.gaps,
        latencies=heard.latencies,
        stop_round_trips=churn.stops,
        start_round_trips=churn.starts,
        churn_failed=churn.failed,
        cpu_seconds=commanding_cpu + heard.cpu_seconds,
        rest_stop_round_trips=churn.rest_stops,
        rest_start_round_trips=churn.rest_starts,
        churn_sent=churn.sent,
        fleet_messages=heard.fleet_messages,
        fleet_latencies=heard.fleet_latencies,
        fleet_ticks=heard.fleet_ticks,
    )


class Commander:
    """MQTT 5 request/response calls to the daemon (`evcsm_link.requests`), each timed."""

    def __init__(self, client: MqttClient, wait_s: float) -> None:
        self._client = client
        self._wait_s = wait_s
        self._requests = Requester(None, client.identifier)

    async def subscribe(self) -> None:
        """Listen on this commander's reply branch."""
        await self._requests.subscribe(self._client)

    async def call(self, charger_id: str, action: CommandAction) -> float | None:
        """The round trip in seconds, or None for an error reply or none within `wait_s`."""
        topic = topics.charger_command(charger_id, action)
        sent = time.perf_counter()
        try:
            async with (
                asyncio.timeout(self._wait_s),
                self._requests.request(self._client, topic, b"{}") as request,
            ):
                payload = await request.replies.next()
        except TimeoutError:
            return None
        elapsed = time.perf_counter() - sent
        return elapsed if json.loads(payload).get("ok") is True else None

    async def consume(self) -> None:
        """Hand each reply to the call waiting for it."""
        async for message in self._client.messages:
            self._requests.take(message)


async def _ramp(plan: Plan, commander: Commander) -> Ramped:
    """Start every charger, at most `plan.in_flight` commands outstanding."""
    gate = asyncio.Semaphore(plan.in_flight)
    results: list[float | None] = []

    async def start(charger_id: str) -> None:
        async with gate:
            results.append(await commander.call(charger_id, CommandAction.START))

    began = time.perf_counter()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(plan.ramp_timeout), asyncio.TaskGroup() as group:
            for charger_id in plan.started:
                group.create_task(start(charger_id), name=f"start-{charger_id}")
    took = time.perf_counter() - began
    trips = [trip for trip in results if trip is not None]
    return Ramped(trips, failed=len(plan.started) - len(trips), seconds=took)


async def _settle(plan: Plan, listener: Connection) -> bool:
    """Wait (at most `settle_timeout`) until updates arrive fresh: what the ramp queued is out."""
    listener.send(Settle())
    try:
        await _hear(listener, Settled, plan.settle_timeout)
    except TimeoutError:
        return False
    return True


@dataclass
class Churn:
    """Round trips of the stops and starts made while the fleet charged."""

    stops: list[float] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    rest_stops: list[float] = field(default_factory=list)
    rest_starts: list[float] = field(default_factory=list)
    sent: list[tuple[float, float]] = field(default_factory=list)
    """(sent at, round trip) of every command that succeeded, sent at on `time.perf_counter`:
    CLOCK_MONOTONIC, the same clock in the daemon's process."""
    failed: int = 0


async def _rest_call(
    http: httpx.AsyncClient, charger_id: str, action: CommandAction
) -> float | None:
    """A REST stop or start's round trip in seconds, or None when it did not succeed."""
    sent = time.perf_counter()
    response = await http.post(f"/api/chargers/{charger_id}/{action.value}")
    elapsed = time.perf_counter() - sent
    return elapsed if response.status_code in {200, 201} else None


def send_offsets(pairs: int, per_s: float, rng: random.Random) -> list[float]:
    """When each stop/start pair is sent, in seconds from the window's opening: one pair in
    each slot of `1 / per_s`, at a random point of it.

    The window opens as a tick's updates arrive, a fixed point of the daemon's tick cycle. At
    fixed offsets the pairs would meet that cycle at the same few points every second (5 at 5
    pairs a second on a 1 s tick), and the command each pair sends first, the MQTT stop, would
    land on the tick's work every fifth pair or never: at random points every command meets
    the cycle anywhere, as a client's would."""
    return [(number + rng.random()) / per_s for number in range(pairs)]


async def _churn(plan: Plan, commander: Commander, http: httpx.AsyncClient) -> Churn:
    """For `plan.seconds`: stop a charging charger and start it again, `churn_per_s` times a
    second, over MQTT; then, when the REST port is known, once more over REST."""
    rng = random.Random(plan.seed)
    churn = Churn()
    pairs = int(plan.seconds * plan.churn_per_s)
    loop = asyncio.get_running_loop()
    opened = loop.time()
    deadline = opened + plan.seconds
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout_at(deadline):
            chosen = rng.sample(plan.started, min(pairs, len(plan.started)))
            offsets = send_offsets(len(chosen), plan.churn_per_s, rng)
            for charger_id, offset in zip(chosen, offsets, strict=True):
                await asyncio.sleep(opened + offset - loop.time())
                calls = [
                    (CommandAction.STOP, churn.stops, commander.call),
                    (CommandAction.START, churn.starts, commander.call),
                ]
                if plan.http_port:
                    calls += [
                        (CommandAction.STOP, churn.rest_stops, functools.partial(_rest_call, http)),
                        (
                            CommandAction.START,
                            churn.rest_starts,
                            functools.partial(_rest_call, http),
                        ),
                    ]
                for action, trips, call in calls:
                    sent = time.perf_counter()
                    trip = await call(charger_id, action)
                    if trip is None:
                        churn.failed += 1
                    else:
                        trips.append(trip)
                        churn.sent.append((sent, trip))
            await asyncio.sleep(deadline - loop.time())
    return churn


async def _pages(
    plan: Plan, http: httpx.AsyncClient
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Each history query `page_runs` times over REST: the times, and the total each reported."""
    times: dict[str, list[float]] = {}
    totals: dict[str, int] = {}
    for name, params in plan.pages:
        runs = times[name] = []
        for _ in range(plan.page_runs):
            sent = time.perf_counter()
            response = await http.get("/api/sessions", params=params)
            runs.append(time.perf_counter() - sent)
            response.raise_for_status()
            totals[name] = int(response.json()["total"])
    return times, totals
