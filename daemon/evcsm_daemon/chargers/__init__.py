"""Chargers: the interface the session rules need, and a simulated charger behind it."""

from evcsm_daemon.chargers.base import Charger, ChargerSpec
from evcsm_daemon.chargers.simulated import SimulatedCharger

__all__ = ["Charger", "ChargerSpec", "SimulatedCharger"]
