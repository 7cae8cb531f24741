"""The charger interface: what the service needs from a charger, whatever speaks to it.

A simulated charger implements it today; a real charger protocol (OCPP 1.6J) can implement the
same methods without any change to the session rules or the service.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from evcsm_daemon.core.sessions import MeterReading


@dataclass(frozen=True, slots=True)
class ChargerSpec:
    """A configured charger: its id and its maximum power."""

    charger_id: str
    max_power_kw: float
    simulation_speed: float | None = None
    """How much faster than real time a simulated charger's meter runs; None for a real one."""


class Charger(Protocol):
    """One charge point with a cumulative energy register."""

    @property
    def spec(self) -> ChargerSpec:
        """Id and maximum power."""
        ...

    @property
    def charging(self) -> bool:
        """True while energy is being delivered."""
        ...

    def restore_register(self, wh: int) -> None:
        """Tell an idle charger the register value it last reported (after a restart)."""
        ...

    async def start(self, now: datetime) -> MeterReading:
        """Begin delivering energy; returns the register at the start."""
        ...

    async def resume(self, started: datetime, meter_start_wh: int) -> None:
        """Carry on a session that began at `started` with the register at `meter_start_wh`."""
        ...

    def read(self, now: datetime) -> MeterReading:
        """The register and the power now."""
        ...

    async def stop(self, now: datetime) -> MeterReading:
        """Stop delivering energy; returns the final reading."""
        ...
