"""The fleet benchmark's client side, run in its own process so it takes no time from the daemon.

Two MQTT 5 clients, as an operator's tools would use the daemon: a commander that makes
request/response calls on `evcsm/chargers/{id}/cmd/{start|stop}` and times each round trip, and a
listener on `session/updates` that counts what arrives, per second and per session. The process
reports to the benchmark through a pipe: `Ramped` once every charger was asked to start, then
`WindowOpened` and, `seconds` later, `ClientReport`.
"""

import asyncio
import contextlib
import json
import logging
import os
import random
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection

from evcsm_link.client import MqttClient, MqttError, connect
from evcsm_link.requests import Requester
from evcsm_schema import CommandAction, topics
from evcsm_schema.broker import BrokerUrl


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
    except* (MqttError, OSError, TimeoutError) as group:
        first = group.exceptions[0]
        conn.send(ClientFailed(f"{type(first).__name__}: {first}"))
    finally:
        conn.close()


async def _drive(plan: Plan, conn: Connection) -> None:
    async with (
        _client(plan.port, "bench-listener") as listen_client,
        _client(plan.port, "bench-commander") as command_client,
    ):
        listener = Listener(fresh=plan.fresh)
        commander = Commander(command_client, plan.command_timeout)
        await listen_client.subscribe(topics.SEED_SESSION, qos=0)
        await commander.subscribe()
        async with asyncio.TaskGroup() as group:
            listening = group.create_task(listener.consume(listen_client), name="bench-listener")
            replies = group.create_task(commander.consume(), name="bench-replies")
            conn.send(await _ramp(plan, commander))
            ramped = time.perf_counter()
            await asyncio.sleep(plan.warmup)
            settled = await _settle(plan, listener)
            cpu = time.process_time()
            listener.open_window()
            conn.send(WindowOpened(waited=time.perf_counter() - ramped, settled=settled))
            stops, starts, failed = await _churn(plan, commander)
            conn.send(listener.report(stops, starts, failed, cpu_seconds=time.process_time() - cpu))
            listening.cancel()
            replies.cancel()


@contextlib.asynccontextmanager
async def _client(port: int, name: str) -> AsyncIterator[MqttClient]:
    identifier = f"{name}-{uuid.uuid4().hex[:6]}"
    async with connect(BrokerUrl("127.0.0.1", port), identifier) as client:
        yield client


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


@dataclass
class Listener:
    """Counts `session/updates` arrivals once the window is open."""

    fresh: float
    """An update arriving within this many seconds of its reading is fresh."""
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once an update arrived fresh: nothing older is still queued ahead of it."""
    opened: float | None = None
    updates: int = 0
    per_second: defaultdict[int, int] = field(default_factory=lambda: defaultdict(int))
    last_seen: dict[str, float] = field(default_factory=dict)
    gaps: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def open_window(self) -> None:
        """Start counting from now."""
        self.opened = time.perf_counter()

    async def consume(self, client: MqttClient) -> None:
        """Record every update as it arrives."""
        async for message in client.messages:
            arrived, wall = time.perf_counter(), time.time()
            if not isinstance(message.payload, bytes):
                continue
            update = json.loads(message.payload)
            age = wall - datetime.fromisoformat(update["timestamp"]).timestamp()
            if age <= self.fresh:
                self.caught_up.set()
            if self.opened is None:
                continue
            self.updates += 1
            self.per_second[int(arrived - self.opened)] += 1
            session = update["sessionId"]
            if (previous := self.last_seen.get(session)) is not None:
                self.gaps.append(arrived - previous)
            self.last_seen[session] = arrived
            self.latencies.append(age)

    def report(
        self, stops: list[float], starts: list[float], failed: int, *, cpu_seconds: float
    ) -> ClientReport:
        """What was seen since the window opened."""
        assert self.opened is not None  # noqa: S101 - report() follows open_window()
        elapsed = time.perf_counter() - self.opened
        full_seconds = [self.per_second[second] for second in range(int(elapsed))]
        return ClientReport(
            seconds=elapsed,
            updates=self.updates,
            per_second=full_seconds,
            gaps=self.gaps,
            latencies=self.latencies,
            stop_round_trips=stops,
            start_round_trips=starts,
            churn_failed=failed,
            cpu_seconds=cpu_seconds,
        )


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
            for charger_id in plan.charger_ids:
                group.create_task(start(charger_id), name=f"start-{charger_id}")
    took = time.perf_counter() - began
    trips = [trip for trip in results if trip is not None]
    return Ramped(trips, failed=len(plan.charger_ids) - len(trips), seconds=took)


async def _settle(plan: Plan, listener: Listener) -> bool:
    """Wait (at most `settle_timeout`) until updates arrive fresh: what the ramp queued is out."""
    listener.caught_up.clear()
    try:
        async with asyncio.timeout(plan.settle_timeout):
            await listener.caught_up.wait()
    except TimeoutError:
        return False
    return True


async def _churn(plan: Plan, commander: Commander) -> tuple[list[float], list[float], int]:
    """For `plan.seconds`: stop a charging charger and start it again, `churn_per_s` times a second."""
    rng = random.Random(plan.seed)
    stops: list[float] = []
    starts: list[float] = []
    failed = 0
    pairs = int(plan.seconds * plan.churn_per_s)
    loop = asyncio.get_running_loop()
    opened = loop.time()
    deadline = opened + plan.seconds
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout_at(deadline):
            chosen = rng.sample(plan.charger_ids, min(pairs, len(plan.charger_ids)))
            for number, charger_id in enumerate(chosen, start=1):
                await asyncio.sleep(opened + (number - 0.5) / plan.churn_per_s - loop.time())
                for action, trips in ((CommandAction.STOP, stops), (CommandAction.START, starts)):
                    trip = await commander.call(charger_id, action)
                    if trip is None:
                        failed += 1
                    else:
                        trips.append(trip)
            await asyncio.sleep(deadline - loop.time())
    return stops, starts, failed
