"""Helpers for driving the service with OCPP events directly: no websockets, a fake clock."""

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from evcsm_daemon.core.events import (
    Acceptance,
    ConnectorStatus,
    ConnectorStatusChanged,
    MeterSample,
    MeterValuesReported,
    StartOutcome,
    StationBooted,
    StationConnected,
    StationDisconnected,
    StopOutcome,
    TransactionStarted,
    TransactionStopped,
)
from evcsm_daemon.errors import ChargerOffline
from evcsm_daemon.service import ChargingService
from evcsm_daemon.stations import Authorizer, accept_any
from evcsm_daemon.store import SessionStore

from tests.support.clock import FakeClock
from tests.support.service import Recorder, fleet


@dataclass
class FakeStations:
    """Stands in for the central system's RemoteStart/RemoteStopTransaction."""

    online: set[str] = field(default_factory=lambda: {"ST"})
    answer: Acceptance = Acceptance.ACCEPTED
    starts: list[tuple[str, str | int]] = field(default_factory=list)
    stops: list[tuple[str, str | int]] = field(default_factory=list)
    hold: asyncio.Event | None = None
    """When set, requests wait for it: an answer still on its way."""

    async def request_start(self, charger_id: str, id_tag: str) -> Acceptance:
        return await self._answer(charger_id, self.starts, (charger_id, id_tag))

    async def request_stop(self, charger_id: str, transaction_id: int) -> Acceptance:
        return await self._answer(charger_id, self.stops, (charger_id, transaction_id))

    async def _answer(
        self, charger_id: str, calls: list[tuple[str, str | int]], call: tuple[str, str | int]
    ) -> Acceptance:
        station = charger_id.rpartition("-")[0]
        if station not in self.online:
            raise ChargerOffline(station)
        calls.append(call)
        if self.hold is not None:
            await self.hold.wait()
        return self.answer


@dataclass
class Station:
    """A station's side of the conversation, as events handed to the service."""

    service: ChargingService
    clock: FakeClock
    station_id: str = "ST"

    async def connect(self) -> None:
        await self.service.handle(StationConnected(self.station_id, self.clock.now, "10.0.0.7"))

    async def boot(self) -> None:
        await self.connect()
        await self.service.handle(
            StationBooted(self.station_id, self.clock.now, "ACME", "Wallbox", "SN-1", "2.1")
        )

    async def disconnect(self) -> None:
        await self.service.handle(StationDisconnected(self.station_id, self.clock.now, "closed"))

    async def status(self, connector: int, status: ConnectorStatus, error: str = "NoError") -> None:
        event = ConnectorStatusChanged(
            self.station_id, connector, self.clock.now, status, error, None, None
        )
        await self.service.handle(event)

    def started_event(
        self, connector: int, meter_start_wh: int, id_tag: str = "TAG", at_s: float = 0
    ) -> TransactionStarted:
        at = self.clock.now + _seconds(at_s)
        return TransactionStarted(self.station_id, connector, at, meter_start_wh, id_tag, None)

    async def start(self, event: TransactionStarted) -> int:
        outcome = await self.service.handle(event)
        assert isinstance(outcome, StartOutcome)
        return outcome.transaction_id

    async def meter(
        self,
        connector: int,
        transaction_id: int | None,
        *samples: tuple[float, int | None, float | None],
    ) -> None:
        readings = tuple(
            MeterSample(self.clock.now + _seconds(at_s), wh, kw, None) for at_s, wh, kw in samples
        )
        await self.service.handle(
            MeterValuesReported(self.station_id, connector, transaction_id, readings)
        )

    async def stop(
        self,
        transaction_id: int,
        meter_stop_wh: int,
        reason: str | None = None,
        at_s: float = 0,
    ) -> StopOutcome:
        event = TransactionStopped(
            self.station_id,
            transaction_id,
            self.clock.now + _seconds(at_s),
            meter_stop_wh,
            reason,
            None,
            (),
        )
        outcome = await self.service.handle(event)
        assert isinstance(outcome, StopOutcome)
        return outcome


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


async def ocpp_service(
    store: SessionStore,
    clock: FakeClock,
    *,
    start_timeout_s: float = 60.0,
    authorize: Authorizer = accept_any,
) -> tuple[ChargingService, FakeStations, Recorder, Station]:
    """A service with one simulated charger and fake stations; a recorder of what it announced."""
    await store.ensure_indexes()
    service = ChargingService(
        store,
        fleet(("CP1", 22.0)),
        clock=clock,
        start_timeout_s=start_timeout_s,
        authorize=authorize,
    )
    await service.resume()
    stations = FakeStations()
    service.attach_stations(stations)
    events = Recorder()
    service.subscribe(events)
    return service, stations, events, Station(service, clock)
