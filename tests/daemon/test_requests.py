"""Start and stop requests to OCPP chargers: accepted now, in effect when the station's event
arrives, or failed: rejected, offline, or no event before the deadline (a fake clock)."""

import asyncio

import httpx
import pytest
from evcsm_daemon.api import create_app
from evcsm_daemon.api.access import AccessPolicy
from evcsm_daemon.core.events import Acceptance, ConnectorStatus
from evcsm_daemon.errors import (
    ChargerOffline,
    NoActiveSession,
    StartRejected,
    StartTimeout,
    StopRejected,
    StopTimeout,
    UnknownCharger,
)
from evcsm_daemon.service import REMOTE_ID_TAG, ChargingService
from evcsm_daemon.store import SessionStore, open_store
from evcsm_schema import ChargingSession, ErrorCode, Readiness, SessionStatus

from tests.daemon.stations import FakeStations, Station, ocpp_service
from tests.support.clock import FakeClock
from tests.support.service import fleet


async def ready() -> Readiness:
    return Readiness(ready=True, broker=True, database=True)


async def connected(
    clock: FakeClock, store: SessionStore | None = None
) -> tuple[ChargingService, FakeStations, Station]:
    service, stations, _, station = await ocpp_service(store or open_store("memory"), clock)
    await station.boot()
    await station.status(1, ConnectorStatus.AVAILABLE)
    return service, stations, station


async def charging(
    clock: FakeClock,
) -> tuple[ChargingService, FakeStations, Station, ChargingSession]:
    service, stations, station = await connected(clock)
    await station.start(station.started_event(1, 1000))
    return service, stations, station, service.active_sessions()[-1]


async def test_a_start_is_pending_until_the_station_starts_the_transaction() -> None:
    clock = FakeClock()
    service, stations, station = await connected(clock)
    pending = await service.request_start("ST-1", "RFID-1")
    assert stations.starts == [("ST-1", "RFID-1")]
    assert not pending.done
    assert pending.result is None
    assert await service.request_start("ST-1") is pending  # a second request shares it
    assert stations.starts == [("ST-1", "RFID-1")]
    clock.advance(5)
    tx = await station.start(station.started_event(1, 1000, "RFID-1"))
    assert pending.done
    session = await pending.wait()
    assert session.transaction_id == tx
    assert pending.created
    again = await service.request_start("ST-1")  # already charging: answered at once
    assert again.result == session
    assert not again.created


async def test_start_waits_for_the_transaction() -> None:
    clock = FakeClock()
    service, stations, station = await connected(clock)
    waiting = asyncio.create_task(service.start("ST-1"))
    while not stations.starts:  # noqa: ASYNC110 - the request is on its way
        await asyncio.sleep(0)
    assert stations.starts == [("ST-1", REMOTE_ID_TAG)]
    await station.start(station.started_event(1, 1000, REMOTE_ID_TAG))
    session, created = await asyncio.wait_for(waiting, 10)
    assert created
    assert session.charger_id == "ST-1"


async def test_the_transaction_may_start_before_the_station_answers_the_request() -> None:
    """No lock is held across the request: the station's events go through meanwhile."""
    clock = FakeClock()
    service, stations, station = await connected(clock)
    stations.hold = asyncio.Event()
    request = asyncio.create_task(service.request_start("ST-1"))
    while not stations.starts:  # noqa: ASYNC110 - the request is on its way
        await asyncio.sleep(0)
    await station.status(1, ConnectorStatus.PREPARING)
    tx = await station.start(station.started_event(1, 1000))
    await station.meter(1, tx, (10, 1100, 7.0))
    stations.hold.set()
    pending = await asyncio.wait_for(request, 10)
    assert (await pending.wait()).transaction_id == tx


async def test_a_rejected_start_is_a_clear_error() -> None:
    service, stations, _ = await connected(FakeClock())
    stations.answer = Acceptance.REJECTED
    with pytest.raises(StartRejected, match="rejected the start") as raised:
        await service.request_start("ST-1")
    assert raised.value.code is ErrorCode.START_REJECTED
    stations.answer = Acceptance.ACCEPTED
    assert not (await service.request_start("ST-1")).done  # nothing left pending in the way


async def test_a_start_with_no_transaction_in_time_times_out() -> None:
    clock = FakeClock()
    service, stations, station = await connected(clock)
    pending = await service.request_start("ST-1")
    clock.advance(59)
    await service.tick()
    assert not pending.done
    clock.advance(1)
    await service.tick()
    with pytest.raises(StartTimeout, match="began no transaction within 60 s") as raised:
        await pending.wait()
    assert raised.value.code is ErrorCode.START_TIMEOUT
    assert service.active_sessions() == []
    fresh = await service.request_start("ST-1")
    assert fresh is not pending
    assert len(stations.starts) == 2
    # A transaction the station starts after all is a session like any other.
    await station.start(station.started_event(1, 1000))
    assert (await fresh.wait()).charger_id == "ST-1"


async def test_the_timeout_is_a_setting() -> None:
    clock = FakeClock()
    service, _, _, station = await ocpp_service(open_store("memory"), clock, start_timeout_s=5)
    await station.boot()
    await station.status(1, ConnectorStatus.AVAILABLE)
    pending = await service.request_start("ST-1")
    clock.advance(5)
    await service.tick()
    with pytest.raises(StartTimeout, match="within 5 s"):
        await pending.wait()


async def test_requests_to_an_offline_or_unknown_charger_fail_at_once() -> None:
    clock = FakeClock()
    service, stations, station = await connected(clock)
    stations.online.clear()
    await station.disconnect()
    with pytest.raises(ChargerOffline) as raised:
        await service.request_start("ST-1")
    assert raised.value.code is ErrorCode.CHARGER_OFFLINE
    with pytest.raises(UnknownCharger):
        await service.request_start("ST-9")
    bare = ChargingService(open_store("memory"), fleet(("CP1", 22.0)), clock=clock)
    await bare.handle(station.started_event(1, 0))  # a station, but no central system to ask
    with pytest.raises(ChargerOffline):
        await bare.request_stop("ST-1")


async def test_a_stop_is_pending_until_the_station_stops_the_transaction() -> None:
    clock = FakeClock()
    service, stations, station, session = await charging(clock)
    pending = await service.request_stop("ST-1", "Stopped by API request")
    assert stations.stops == [("ST-1", session.transaction_id or 0)]
    assert not pending.done
    clock.advance(3)
    await station.stop(session.transaction_id or 0, 1500, "Remote")
    stopped = await pending.wait()
    assert stopped.status is SessionStatus.STOPPED
    assert stopped.stop_reason == "Stopped by API request"  # the request's words for Remote
    with pytest.raises(NoActiveSession):
        await service.request_stop("ST-1")


async def test_a_stop_by_session_id() -> None:
    clock = FakeClock()
    service, stations, station, session = await charging(clock)
    pending = await service.request_stop(session_id=session.session_id)
    assert stations.stops == [("ST-1", session.transaction_id or 0)]
    await station.stop(session.transaction_id or 0, 1500, "Remote")
    assert (await pending.wait()).session_id == session.session_id


async def test_a_rejected_or_late_stop_is_a_clear_error() -> None:
    clock = FakeClock()
    service, stations, _, _ = await charging(clock)
    stations.answer = Acceptance.REJECTED
    with pytest.raises(StopRejected) as rejected:
        await service.request_stop("ST-1")
    assert rejected.value.code is ErrorCode.STOP_REJECTED
    stations.answer = Acceptance.ACCEPTED
    pending = await service.request_stop("ST-1")
    clock.advance(60)
    await service.tick()
    with pytest.raises(StopTimeout) as late:
        await pending.wait()
    assert late.value.code is ErrorCode.STOP_TIMEOUT
    assert service.state("ST-1").session is not None
    assert service.active_sessions()[-1].charger_id == "ST-1"  # still charging


@pytest.mark.parametrize(
    ("setup", "status", "code"),
    [
        ("reject", 409, "start_rejected"),
        ("offline", 503, "charger_offline"),
    ],
)
async def test_rest_maps_the_new_errors(setup: str, status: int, code: str) -> None:
    service, stations, _ = await connected(FakeClock())
    if setup == "reject":
        stations.answer = Acceptance.REJECTED
    else:
        stations.online.clear()
    app = create_app(service, ready, AccessPolicy.build("127.0.0.1"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.post("/api/chargers/ST-1/start")
    assert response.status_code == status
    assert response.json()["code"] == code
