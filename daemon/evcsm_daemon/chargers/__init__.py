"""Chargers: the driver boundary, and the simulated fleet behind it (OCPP stations: `ocpp`)."""

from evcsm_daemon.chargers.base import ChargerDriver, ChargerSpec, StationDriver
from evcsm_daemon.chargers.simulated import SimulatedCharger, SimulatedFleet

__all__ = ["ChargerDriver", "ChargerSpec", "SimulatedCharger", "SimulatedFleet", "StationDriver"]
