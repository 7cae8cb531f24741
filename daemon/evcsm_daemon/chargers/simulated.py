"""Simulated chargers: a meter that behaves like a real kWh register, and the fleet that drives them.

While charging, the register is `start register + energy(simulated seconds since start)` from
the car's charge profile, floored to whole Wh: cumulative, monotonic, and derived from the
session's start time, so after a daemon restart it carries on from where the car is now (a
real car keeps charging while the daemon is down). `speed` runs the simulated clock faster.

`SimulatedFleet` is the event producer: it answers a start or stop request by handing the
sink `SessionBegan` / `SessionEnded` at once, and on each `sample(now)` (the daemon's meter tick
clocks it) it hands the sink one `FleetSampled` with the readings of the charging chargers asked
for (all of them by default; the service's tick asks for them a slice at a time). A
charger changes what it does only once the sink has taken its event: a start the sink could not
store is not begun, a stop it could not store goes on charging. A stop the sink has taken but
the database has not confirmed (`WriteNotConfirmed`) is in effect, as the service then says.

What a real charger keeps in its own memory across a power cut, its register and the session in
progress, comes back with `power_up()` from the store.
"""

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from evcsm_schema import ChargingSession

from evcsm_daemon.chargers.base import ChargerSpec
from evcsm_daemon.core.events import (
    Acceptance,
    BatchSink,
    FleetSampled,
    SessionBegan,
    SessionEnded,
)
from evcsm_daemon.core.profile import ChargeProfile
from evcsm_daemon.core.sessions import MeterReading
from evcsm_daemon.errors import UnknownCharger, WriteNotConfirmed

FLOOR_SLACK_WH = 1e-6
"""Keeps float rounding (10.999999 kWh for 11) from costing a whole Wh when flooring."""


class SimulatedCharger:
    """One charger's meter, with a simulated car plugged in for every session."""

    def __init__(self, spec: ChargerSpec, *, profile: ChargeProfile, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.spec = replace(spec, simulation_speed=speed)
        """Id, maximum power and the simulated clock's speed."""
        self._profile = profile
        self._speed = speed
        self._started: datetime | None = None
        self._start_wh = 0
        self._wh = 0
        self._power_kw = 0.0

    @property
    def charging(self) -> bool:
        """True while a session is delivering energy."""
        return self._started is not None

    @property
    def register_wh(self) -> int:
        """The register at the latest reading."""
        return self._wh

    def plug_in(self, started: datetime, meter_start_wh: int) -> None:
        """Meter a session that began at `started` with the register at `meter_start_wh`."""
        self._started = started
        self._start_wh = meter_start_wh
        self._wh = max(self._wh, meter_start_wh)
        self._power_kw = 0.0

    def read(self, now: datetime) -> MeterReading:
        """The register and power now; never below the last reading."""
        if self._started is None:
            return MeterReading(wh=self._wh, power_kw=0.0)
        elapsed = max(0.0, (now - self._started).total_seconds()) * self._speed
        wh = self._start_wh + math.floor(self._profile.energy_kwh(elapsed) * 1000 + FLOOR_SLACK_WH)
        self._wh = max(wh, self._wh)
        self._power_kw = self._profile.power_kw(elapsed)
        return MeterReading(wh=self._wh, power_kw=self._power_kw)

    def unplug(self, final_wh: int) -> None:
        """End the session: the register keeps its value for the next one."""
        self._started = None
        self._wh = max(self._wh, final_wh)
        self._power_kw = 0.0

    def power_up(self, latest: ChargingSession | None) -> None:
        """Come back with what the charger remembers: its register and any open session."""
        if latest is None:
            return
        self._wh = max(self._wh, latest.meter_wh)
        if latest.active:
            self.plug_in(latest.start_time, latest.meter_start_wh)


class SimulatedFleet:
    """Every simulated charger of the daemon: one driver, one event producer."""

    def __init__(self, chargers: Sequence[SimulatedCharger]) -> None:
        self._chargers = {charger.spec.charger_id: charger for charger in chargers}
        self._charging: dict[str, SimulatedCharger] = {}
        """The chargers metering a session, so a tick reads them without walking the fleet."""
        self._sink: BatchSink | None = None
        self._clock: Callable[[], datetime] | None = None

    @property
    def specs(self) -> list[ChargerSpec]:
        """The chargers, in configuration order."""
        return [charger.spec for charger in self._chargers.values()]

    def attach(self, sink: BatchSink, clock: Callable[[], datetime]) -> None:
        """Send events to `sink`; the simulation's time is `clock`'s."""
        self._sink = sink
        self._clock = clock

    def power_up(self, latest: Mapping[str, ChargingSession]) -> None:
        """Restore each charger from its latest stored session (after a daemon restart)."""
        for charger_id, charger in self._chargers.items():
            charger.power_up(latest.get(charger_id))
            self._follow(charger)

    def charger(self, charger_id: str) -> SimulatedCharger:
        """One charger; UnknownCharger if the fleet has none by that id."""
        try:
            return self._chargers[charger_id]
        except KeyError:
            raise UnknownCharger(charger_id) from None

    async def request_start(self, charger_id: str, id_tag: str) -> Acceptance:  # noqa: ARG002 - a simulated car needs no idTag
        """Plug in a fresh car: the sink stores the session, then the meter runs."""
        sink, now = self._attached()
        charger = self.charger(charger_id)
        event = SessionBegan(charger_id, now, charger.read(now).wh)
        session = await sink.handle(event)
        if isinstance(session, ChargingSession) and session.active and not charger.charging:
            charger.plug_in(session.start_time, session.meter_start_wh)
            self._follow(charger)
        return Acceptance.ACCEPTED

    async def request_stop(self, charger_id: str, session: ChargingSession) -> Acceptance:
        """Unplug the car: the sink stores the stop, then the meter stops."""
        sink, now = self._attached()
        charger = self.charger(charger_id)
        final = max(charger.read(now).wh, session.meter_wh)
        event = SessionEnded(charger_id, session.session_id, now, final, None)
        try:
            await sink.handle(event)
        except WriteNotConfirmed:
            self._unplug(charger, final)  # the stop is in effect; the service stores it later
            raise
        self._unplug(charger, final)
        return Acceptance.ACCEPTED

    def charging(self) -> list[str]:
        """The ids of the chargers metering a session now."""
        return list(self._charging)

    def sample(self, now: datetime, charger_ids: Iterable[str] | None = None) -> None:
        """Hand the sink the readings at `now` of the `charger_ids` still charging (by default
        every charging charger), as one batch."""
        sink, _ = self._attached()
        charging = self._charging
        readings = []
        for charger_id in charging if charger_ids is None else charger_ids:
            charger = charging.get(charger_id)
            if charger is not None:
                reading = charger.read(now)
                readings.append((charger_id, reading.wh, reading.power_kw))
        sink.sampled(FleetSampled(now, readings))

    def _follow(self, charger: SimulatedCharger) -> None:
        if charger.charging:
            self._charging[charger.spec.charger_id] = charger

    def _unplug(self, charger: SimulatedCharger, final_wh: int) -> None:
        charger.unplug(final_wh)
        self._charging.pop(charger.spec.charger_id, None)

    def _attached(self) -> tuple[BatchSink, datetime]:
        if self._sink is None or self._clock is None:
            raise RuntimeError("the simulated fleet is not attached to a service")
        return self._sink, self._clock()
