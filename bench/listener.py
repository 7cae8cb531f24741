"""The fleet benchmark's listener: a process of its own that receives the daemon's streams.

It subscribes to `session/updates` and `evcsm/fleet/updates`, as an integrator consuming the
whole stream would (through `bench/subscriber.py`, a QoS 0 subscriber that cuts messages out of
the socket's bytes rather than decoding each through paho), and tells the commanding process (bench/clients.py) when updates arrive
fresh; once the window is open it records every arrival, and when it closes it reports what it
saw (`Heard`). It runs apart from the commanding process so that a command's reply is never
queued behind the stream in one event loop: at 1,000 charging a tick's 1,000 updates took that
loop 5-16 ms, and commands that met them waited as long. `nice` lowers its priority: on a
machine where it shares a core with the broker, it then takes that core only when the broker
and the commander do not need it, as a consumer running elsewhere would.

The control channel is a `multiprocessing` pipe: the commanding process sends `Settle`, `Open`
and `Close`; the listener answers `Subscribed` once subscribed, `Settled` once an update arrived
fresh after a `Settle`, and `Heard` after `Close`.
"""

import asyncio
import contextlib
import json
import logging
import os
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection

from evcsm_schema import topics

from bench.pipes import next_message
from bench.subscriber import Chunk, SubscriberError, subscribed


@dataclass(frozen=True, slots=True)
class ListenerPlan:
    """What the listener process does."""

    port: int
    fresh: float
    """An update arriving within this many seconds of its reading is fresh."""
    by_fleet: bool
    """Tell freshness by the fleet messages (the per-session stream is limited or off)."""
    cpus: frozenset[int] | None
    nice: int = 0
    """Added to the process's niceness (0-19)."""


@dataclass(frozen=True, slots=True)
class Subscribed:
    """The listener is subscribed to both streams."""


@dataclass(frozen=True, slots=True)
class Settle:
    """Say `Settled` once an update arrives fresh."""


@dataclass(frozen=True, slots=True)
class Settled:
    """An update arrived fresh: nothing older is queued ahead of it."""


@dataclass(frozen=True, slots=True)
class Open:
    """Record every arrival from now."""


@dataclass(frozen=True, slots=True)
class Close:
    """Stop recording and report."""


@dataclass(frozen=True, slots=True)
class Heard:
    """What arrived while the window was open."""

    seconds: float
    updates: int
    per_second: list[int]
    gaps: list[float]
    """Between consecutive updates of one session (the tick period a client sees)."""
    latencies: list[float]
    """From a reading's timestamp to its arrival at the listener."""
    fleet_messages: int
    fleet_latencies: list[float]
    fleet_ticks: list[int]
    cpu_seconds: float
    """The listener process's CPU time while the window was open."""


@dataclass(frozen=True, slots=True)
class ListenerFailed:
    """The listener could not carry on."""

    reason: str


@dataclass
class Listener:
    """Records `session/updates` and `evcsm/fleet/updates` arrivals once the window is open.

    While the window is open an arrival only records its time and payload; the payloads are
    decoded when the window closes, so that the listener keeps up with 10,000 updates a second
    on a shared core. Before the window every 50th update is decoded, to tell when they arrive
    fresh."""

    fresh: float
    by_fleet: bool = False
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once an update arrived fresh: nothing older is still queued ahead of it."""
    opened: float | None = None
    arrivals: list[tuple[float, float, bytes]] = field(default_factory=list)
    """(perf_counter, wall clock, payload) of every update in the window."""
    fleet: list[tuple[float, bytes]] = field(default_factory=list)
    """(wall clock, payload) of every fleet message in the window."""
    before: int = 0

    def open_window(self) -> None:
        """Start counting from now."""
        self.opened = time.perf_counter()

    async def consume(self, chunks: AsyncIterator[Chunk]) -> None:
        """Record every update as it arrives (the window's end cancels it)."""
        record = self.arrivals.append
        async for chunk in chunks:
            for topic, payload in chunk.messages:
                if topic == topics.FLEET_UPDATES:
                    if self.opened is not None:
                        self.fleet.append((chunk.wall, payload))
                    elif self.by_fleet and _age(payload, chunk.wall) <= self.fresh:
                        self.caught_up.set()
                    continue
                if self.opened is not None:
                    record((chunk.arrived, chunk.wall, payload))
                    continue
                self.before += 1
                if self.before % 50 == 0 and _age(payload, chunk.wall) <= self.fresh:
                    self.caught_up.set()

    def heard(self, *, cpu_seconds: float) -> Heard:
        """What arrived since the window opened."""
        assert self.opened is not None  # noqa: S101 - heard() follows open_window()
        elapsed = time.perf_counter() - self.opened
        per_second: defaultdict[int, int] = defaultdict(int)
        last_seen: dict[str, float] = {}
        gaps: list[float] = []
        latencies: list[float] = []
        for arrived, wall, payload in self.arrivals:
            update = json.loads(payload)
            latencies.append(wall - datetime.fromisoformat(update["timestamp"]).timestamp())
            per_second[int(arrived - self.opened)] += 1
            session = update["sessionId"]
            if (previous := last_seen.get(session)) is not None:
                gaps.append(arrived - previous)
            last_seen[session] = arrived
        fleet_latencies, ticks = fleet_arrivals(self.fleet)
        return Heard(
            seconds=elapsed,
            updates=len(self.arrivals),
            per_second=[per_second[second] for second in range(int(elapsed))],
            gaps=gaps,
            latencies=latencies,
            fleet_messages=len(self.fleet),
            fleet_latencies=fleet_latencies,
            fleet_ticks=ticks,
            cpu_seconds=cpu_seconds,
        )


def fleet_arrivals(arrivals: list[tuple[float, bytes]]) -> tuple[list[float], list[int]]:
    """Per reading, from its timestamp (the message's unless it gives its own) to its arrival;
    the readings of each tick received whole."""
    latencies: list[float] = []
    parts: defaultdict[str, list[int]] = defaultdict(list)
    expected: dict[str, int] = {}
    for wall, payload in arrivals:
        update = json.loads(payload)
        tick = datetime.fromisoformat(update["timestamp"]).timestamp()
        for reading in update["readings"]:
            own = reading.get("timestamp")
            taken = datetime.fromisoformat(own).timestamp() if own else tick
            latencies.append(wall - taken)
        parts[update["timestamp"]].append(len(update["readings"]))
        expected[update["timestamp"]] = update["parts"]
    whole = [sum(parts[tick]) for tick in parts if len(parts[tick]) == expected[tick]]
    return latencies, whole


def _age(payload: bytes, wall: float) -> float:
    """Seconds from the update's reading to `wall`."""
    return wall - datetime.fromisoformat(json.loads(payload)["timestamp"]).timestamp()


def run_listener(plan: ListenerPlan, conn: Connection) -> None:
    """Process entry point: listen and answer the commanding process through `conn`."""
    if plan.cpus:
        os.sched_setaffinity(0, plan.cpus)
    if plan.nice:
        os.nice(plan.nice)
    logging.getLogger("mqtt").setLevel(logging.ERROR)
    try:
        asyncio.run(_listen(plan, conn))
    except* (SubscriberError, OSError, EOFError) as group:
        first: BaseException = group
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        with contextlib.suppress(OSError):
            conn.send(ListenerFailed(f"{type(first).__name__}: {first}"))
    finally:
        conn.close()


async def _listen(plan: ListenerPlan, conn: Connection) -> None:
    filters = (topics.SEED_SESSION, topics.FLEET_UPDATES)
    identifier = f"bench-listener-{uuid.uuid4().hex[:6]}"
    async with subscribed(plan.port, identifier, filters) as chunks:
        listener = Listener(fresh=plan.fresh, by_fleet=plan.by_fleet)
        conn.send(Subscribed())
        async with asyncio.TaskGroup() as group:
            consuming = group.create_task(listener.consume(chunks), name="bench-listener")
            settling: asyncio.Task[None] | None = None
            cpu = time.process_time()
            async for order in _orders(conn):
                if isinstance(order, Settle):
                    settling = group.create_task(_settle(listener, conn), name="bench-settle")
                elif isinstance(order, Open):
                    if settling is not None:
                        settling.cancel()
                    cpu = time.process_time()
                    listener.open_window()
                elif isinstance(order, Close):
                    conn.send(listener.heard(cpu_seconds=time.process_time() - cpu))
                    break
            consuming.cancel()


async def _settle(listener: Listener, conn: Connection) -> None:
    """Say `Settled` once an update arrives fresh."""
    listener.caught_up.clear()
    await listener.caught_up.wait()
    conn.send(Settled())


async def _orders(conn: Connection) -> AsyncIterator[object]:
    """What the commanding process sends, as it comes."""
    while True:
        yield await next_message(conn)
