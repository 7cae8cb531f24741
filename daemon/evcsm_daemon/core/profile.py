"""How much power a simulated car draws, and how much energy it has taken, after t seconds.

A battery charges at the charger's full power until its state of charge (SoC) reaches the taper
point, then the power falls in proportion to the charge still missing (the constant-voltage
phase of a CC-CV charge): P(SoC) = Pmax * (1 - SoC) / (1 - taper). That makes the SoC approach
100 % exponentially, and both the energy and the power have a closed form in the elapsed time.
So the meter is a pure function of (start register, start time, now): it needs no state to be
right after a restart, and it is monotonic because energy never decreases with time.
"""

import math
from dataclasses import dataclass

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class ChargeProfile:
    """A car on a charger: the charger's power and the battery's size and starting charge."""

    max_power_kw: float
    capacity_kwh: float = 60.0
    initial_soc: float = 0.2
    taper_soc: float = 0.8

    def __post_init__(self) -> None:
        if self.max_power_kw <= 0 or self.capacity_kwh <= 0:
            raise ValueError("power and capacity must be positive")
        if not 0 <= self.initial_soc <= 1 or not 0 <= self.taper_soc < 1:
            raise ValueError("state of charge values must lie in [0, 1], taper below 1")

    @property
    def _bulk_hours(self) -> float:
        """Hours at full power before the taper starts."""
        missing = max(0.0, self.taper_soc - self.initial_soc)
        return missing * self.capacity_kwh / self.max_power_kw

    def soc(self, elapsed_s: float) -> float:
        """State of charge (0..1) after `elapsed_s` seconds of charging."""
        hours = max(0.0, elapsed_s) / SECONDS_PER_HOUR
        bulk = self._bulk_hours
        if hours <= bulk:
            return self.initial_soc + hours * self.max_power_kw / self.capacity_kwh
        start = max(self.initial_soc, self.taper_soc)
        rate = self.max_power_kw / ((1 - self.taper_soc) * self.capacity_kwh)
        return 1 - (1 - start) * math.exp(-rate * (hours - bulk))

    def energy_kwh(self, elapsed_s: float) -> float:
        """Energy taken from the charger after `elapsed_s` seconds, in kWh."""
        hours = max(0.0, elapsed_s) / SECONDS_PER_HOUR
        if hours <= self._bulk_hours:
            return hours * self.max_power_kw
        return max(0.0, (self.soc(elapsed_s) - self.initial_soc) * self.capacity_kwh)

    def power_kw(self, elapsed_s: float) -> float:
        """Power drawn at `elapsed_s` seconds, in kW."""
        soc = self.soc(elapsed_s)
        if soc < self.taper_soc:
            return self.max_power_kw
        return max(0.0, self.max_power_kw * (1 - soc) / (1 - self.taper_soc))
