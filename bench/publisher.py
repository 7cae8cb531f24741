"""A fleet of N charging sessions on the wire, as the daemon would publish it, without the daemon.

The dashboard benchmark runs this in its own process: it publishes the daemon's retained
`online` and every charger's retained `ChargerState` (all charging, 22 kW), then at every tick
the readings, either as the daemon's `FleetUpdate` parts on `evcsm/fleet/updates` (built by the
daemon's own `fleet_payloads`) or as one seed `SessionUpdate` per session on `session/updates`,
and, as the daemon does (`mqtt.refresh`), the retained states of a fifth of the chargers with
their latest reading, in turn (`--no-refresh` leaves them out, as the daemon did before).
Each reading is a function of time: session `i` started `START_SPREAD_S * i / N` seconds before
the publisher did and charges at `POWER_KW`, so the benchmark can tell from a figure on screen
when it was published (`published_at`).
"""

import asyncio
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection

from evcsm_daemon.mqtt.fleet import fleet_payloads
from evcsm_link.client import connect
from evcsm_schema import (
    Availability,
    ChargerState,
    ChargerStatus,
    ChargingSession,
    SessionStatus,
    SessionUpdate,
    topics,
)
from evcsm_schema.broker import BrokerUrl

POWER_KW = 22.0
START_SPREAD_S = 1200.0
"""Sessions started up to this long before the run, so their figures differ (and stay under
10 kWh, shown to the watt-hour, for the first few minutes)."""
METER_START_WH = 1_000_000
REFRESH_TICKS = 5
"""Every charging charger's retained state is republished once in this many ticks (the daemon's
`EVCSM_STATE_REFRESH` at a 1 s tick, up to 2,500 charging)."""


@dataclass(frozen=True, slots=True)
class Fleet:
    """The sessions' start times (POSIX seconds), one per charger, in id order."""

    started: tuple[float, ...]

    @classmethod
    def at(cls, count: int, now: float) -> "Fleet":
        """`count` sessions started before `now`, spread over START_SPREAD_S."""
        return cls(tuple(now - 60 - START_SPREAD_S * i / count for i in range(count)))

    def energy_wh(self, index: int, at: float) -> int:
        """Energy session `index` has delivered at `at`, in whole Wh as a register reads it."""
        return int(POWER_KW * 1000 * max(0.0, at - self.started[index]) / 3600)

    def published_at(self, index: int, energy_kwh: float) -> float:
        """When a reading of `energy_kwh` (to three decimals) was taken, in POSIX seconds."""
        return self.started[index] + energy_kwh * 3600 / POWER_KW


def charger_id(index: int) -> str:
    """`CP00001` ... in display order."""
    return f"CP{index + 1:05d}"


def _state(session: ChargingSession, at: float) -> ChargerState:
    return ChargerState(
        charger_id=session.charger_id,
        max_power_kw=POWER_KW,
        status=ChargerStatus.CHARGING,
        session=session,
        updated_at=datetime.fromtimestamp(at, UTC),
    )


def _session(fleet: Fleet, index: int, at: float) -> ChargingSession:
    wh = fleet.energy_wh(index, at)
    return ChargingSession(
        session_id=f"{index:08x}-0000-4000-8000-000000000000",
        charger_id=charger_id(index),
        status=SessionStatus.CHARGING,
        start_time=datetime.fromtimestamp(fleet.started[index], UTC),
        energy_consumed=wh / 1000,
        meter_start_wh=METER_START_WH,
        meter_wh=METER_START_WH + wh,
        power_kw=POWER_KW,
        updated_at=datetime.fromtimestamp(at, UTC),
    )


async def publish_fleet(
    port: int, fleet: Fleet, stream: str, ready: Connection, *, refresh: bool
) -> None:
    """Publish the retained states, say so on `ready`, then tick once a second until killed."""
    async with connect(BrokerUrl("127.0.0.1", port), "evcsm-bench-fleet") as client:
        await client.publish(topics.AVAILABILITY, Availability.ONLINE.value, qos=1, retain=True)
        now = time.time()
        count = len(fleet.started)
        for index in range(count):
            session = _session(fleet, index, now)
            state = _state(session, now - 1)
            await client.publish(
                topics.charger_state(session.charger_id), state.to_json(), qos=1, retain=True
            )
        ready.send("ready")
        next_tick = time.time() + 1
        share, turn = math.ceil(count / REFRESH_TICKS), 0
        while True:
            await asyncio.sleep(max(0.0, next_tick - time.time()))
            at = time.time()
            sessions = [_session(fleet, index, at) for index in range(len(fleet.started))]
            if stream == "fleet":
                for payload in fleet_payloads(sessions):
                    await client.publish(topics.FLEET_UPDATES, payload, qos=0)
            else:
                for session in sessions:
                    payload = SessionUpdate.of(session).to_json()
                    await client.publish(topics.SEED_SESSION, payload, qos=0)
            for index in range(turn, min(turn + share, count)) if refresh else ():
                state = _state(sessions[index], at)
                topic = topics.charger_state(state.charger_id)
                await client.publish(topic, state.to_json(), qos=1, retain=True)
            turn = 0 if turn + share >= count else turn + share
            next_tick += 1


def run(port: int, fleet: Fleet, stream: str, ready: Connection, refresh: bool) -> None:  # noqa: FBT001 - a process target's arguments are positional
    """The publisher process's entry point."""
    asyncio.run(publish_fleet(port, fleet, stream, ready, refresh=refresh))
