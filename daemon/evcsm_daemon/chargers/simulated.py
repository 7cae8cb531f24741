"""A simulated charger whose meter behaves like a real kWh register.

While charging, the register is `start register + energy(simulated seconds since start)` from
the car's charge profile, floored to whole Wh: cumulative, monotonic, and derived from the
session's start time, so after a daemon restart it carries on from where the car is now (a
real car keeps charging while the daemon is down). `speed` runs the simulated clock faster.
"""

import math
from dataclasses import replace
from datetime import datetime

from evcsm_daemon.chargers.base import ChargerSpec
from evcsm_daemon.core.profile import ChargeProfile
from evcsm_daemon.core.sessions import MeterReading

FLOOR_SLACK_WH = 1e-6
"""Keeps float rounding (10.999999 kWh for 11) from costing a whole Wh when flooring."""


class SimulatedCharger:
    """A charger with a simulated car plugged in for every session."""

    def __init__(self, spec: ChargerSpec, *, profile: ChargeProfile, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._spec = replace(spec, simulation_speed=speed)
        self._profile = profile
        self._speed = speed
        self._idle_wh = 0
        self._started: datetime | None = None
        self._start_wh = 0
        self._last = MeterReading(wh=0, power_kw=0.0)

    @property
    def spec(self) -> ChargerSpec:
        """Id, maximum power and the simulated clock's speed."""
        return self._spec

    @property
    def charging(self) -> bool:
        """True while a session is delivering energy."""
        return self._started is not None

    def restore_register(self, wh: int) -> None:
        """Set the idle register (never backwards)."""
        self._idle_wh = max(self._idle_wh, wh)
        if not self.charging:
            self._last = MeterReading(wh=self._idle_wh, power_kw=0.0)

    async def start(self, now: datetime) -> MeterReading:
        """Plug in a fresh simulated car."""
        if not self.charging:
            await self.resume(now, self._idle_wh)
        return self._last

    async def resume(self, started: datetime, meter_start_wh: int) -> None:
        """Carry on a session from its start time and start register."""
        self._started = started
        self._start_wh = meter_start_wh
        self._last = MeterReading(wh=meter_start_wh, power_kw=0.0)

    def read(self, now: datetime) -> MeterReading:
        """The register and power now; never below the last reading."""
        if self._started is None:
            return self._last
        elapsed = max(0.0, (now - self._started).total_seconds()) * self._speed
        wh = self._start_wh + math.floor(self._profile.energy_kwh(elapsed) * 1000 + FLOOR_SLACK_WH)
        self._last = MeterReading(
            wh=max(wh, self._last.wh), power_kw=self._profile.power_kw(elapsed)
        )
        return self._last

    async def stop(self, now: datetime) -> MeterReading:
        """Unplug: the register keeps its value for the next session."""
        final = self.read(now)
        self._started = None
        self._idle_wh = final.wh
        self._last = MeterReading(wh=final.wh, power_kw=0.0)
        return self._last
