"""The service's live view of the fleet: every charger, its station, its sessions, in memory.

The fleet is dynamic: the simulated chargers are configured, and an OCPP connector joins when it
is first seen (a status notification, a transaction, or an open session found in the store at
start-up). Whoever changes what a charger shows tells the listeners here, in one place, so a new
charger's retained state reaches the MQTT bridge like any other.
"""

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from evcsm_schema import ChargerState, ChargingSession

from evcsm_daemon.chargers.base import ChargerDriver
from evcsm_daemon.core.events import charger_id as fleet_id
from evcsm_daemon.core.fleet import Report, StationView, charger_state
from evcsm_daemon.errors import UnknownCharger

log = logging.getLogger(__name__)


class Listener(Protocol):
    """Receives what the service did; implemented by the MQTT publisher."""

    def status_changed(self, session: ChargingSession, state: ChargerState) -> None:
        """A session started or stopped."""

    def charger_changed(self, state: ChargerState) -> None:
        """A charger appeared, or what it shows changed without a session starting or ending."""

    def ticked(self, sessions: Sequence[ChargingSession]) -> None:
        """The active sessions after a meter tick."""


@dataclass(slots=True)
class Charger:
    """One charger as the service knows it."""

    charger_id: str
    driver: ChargerDriver | None
    """Where its start and stop requests go; None for an OCPP charger with no central system."""
    max_power_kw: float | None = None
    simulation_speed: float | None = None
    station_id: str | None = None
    connector_id: int | None = None
    report: Report | None = None
    """Its connector's latest status notification (OCPP)."""


class Fleet:
    """Chargers, stations and sessions in memory, and the listeners told of every change."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.chargers: dict[str, Charger] = {}
        self.stations: dict[str, StationView] = {}
        self.active: dict[str, ChargingSession] = {}
        """Charger id → its session in progress, with the latest reading."""
        self.last: dict[str, ChargingSession] = {}
        """Charger id → its latest session known to have ended."""
        self.transactions: dict[int, str] = {}
        """OCPP transaction id → charger id, for the sessions in `active`."""
        self.unsaved: dict[str, ChargingSession] = {}
        self.metered: set[str] = set()
        """Charger ids of OCPP sessions with new meter values since the last tick."""
        """Session id → its latest reading not stored yet."""
        self.listeners: list[Listener] = []
        self._locks: dict[str, asyncio.Lock] = {}

    def lock(self, charger_id: str) -> asyncio.Lock:
        """The lock that serialises the charger's store writes (never held across a request)."""
        return self._locks.setdefault(charger_id, asyncio.Lock())

    def charger(self, charger_id: str) -> Charger:
        """A known charger; UnknownCharger otherwise."""
        try:
            return self.chargers[charger_id]
        except KeyError:
            raise UnknownCharger(charger_id) from None

    def connector(
        self, station_id: str, connector_id: int, driver: ChargerDriver | None
    ) -> tuple[Charger, bool]:
        """The charger of an OCPP connector, and whether it was added now (first seen): the
        caller announces it once it has applied what it learnt."""
        charger_id = fleet_id(station_id, connector_id)
        known = self.chargers.get(charger_id)
        if known is not None:
            if known.driver is None:
                known.driver = driver
            return known, False
        added = Charger(charger_id, driver, station_id=station_id, connector_id=connector_id)
        self.chargers[charger_id] = added
        self.stations.setdefault(station_id, StationView(station_id))
        log.info(
            "charger %s joined the fleet (connector %d of %s)", charger_id, connector_id, station_id
        )
        return added, True

    def of_station(self, station_id: str) -> list[str]:
        """The charger ids of a station's connectors."""
        return [c.charger_id for c in self.chargers.values() if c.station_id == station_id]

    def session(self, charger_id: str) -> ChargingSession | None:
        """The active session, or the last one."""
        return self.active.get(charger_id) or self.last.get(charger_id)

    def state(self, charger_id: str) -> ChargerState:
        """What the charger shows now."""
        charger = self.charger(charger_id)
        station = self.stations.get(charger.station_id) if charger.station_id else None
        return charger_state(
            charger_id,
            max_power_kw=charger.max_power_kw,
            simulation_speed=charger.simulation_speed,
            station=station,
            connector_id=charger.connector_id,
            report=charger.report,
            session=self.session(charger_id),
            now=self.clock(),
        )

    def begin(self, session: ChargingSession) -> None:
        """A session is in progress."""
        self.active[session.charger_id] = session
        if session.transaction_id is not None:
            self.transactions[session.transaction_id] = session.charger_id

    def end(self, stopped: ChargingSession) -> None:
        """A session is over: forget it as active, keep it as the charger's last, announce it."""
        self.unsaved.pop(stopped.session_id, None)
        current = self.active.get(stopped.charger_id)
        if current is not None and current.session_id == stopped.session_id:
            del self.active[stopped.charger_id]
        if stopped.transaction_id is not None:
            self.transactions.pop(stopped.transaction_id, None)
        self.last[stopped.charger_id] = stopped
        self.announce_status(stopped)

    def announce_status(self, session: ChargingSession) -> None:
        """Tell the listeners a session started or stopped."""
        state = self.state(session.charger_id)
        for listener in self.listeners:
            listener.status_changed(session, state)

    def announce(self, charger_id: str) -> None:
        """Tell the listeners what the charger shows now."""
        state = self.state(charger_id)
        for listener in self.listeners:
            listener.charger_changed(state)
