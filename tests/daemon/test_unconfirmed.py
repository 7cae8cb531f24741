"""Writes whose outcome is unknown: the service asks again, or settles them later; no ghost stays.

Each test runs on every backend, with `FaultyStore` failing chosen calls: LOST_ACK applies the
write and then raises WriteNotConfirmed (a timeout after the server applied it), LOST_WRITE
raises it without applying, DOWN raises StoreUnavailable.
"""

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest
from evcsm_daemon.api import create_app
from evcsm_daemon.errors import StoreError, StoreUnavailable, WriteNotConfirmed
from evcsm_daemon.service import ChargingService
from evcsm_daemon.store import SessionStore
from evcsm_daemon.ticker import Ticker
from evcsm_schema import ChargerStatus, ChargingSession, Readiness, SessionQuery, SessionStatus
from evcsm_schema.session import DefaultStopReason
from pymongo.errors import NetworkTimeout

from tests.support.clock import FakeClock
from tests.support.faults import Fault, FaultyStore
from tests.support.mongo import DriverFaults, mongo_store, mongomock_database
from tests.support.service import Recorder, make_service

Opener = Callable[[], Awaitable[SessionStore]]


@pytest.fixture
async def faulty(stores: Opener) -> FaultyStore:
    return FaultyStore(await stores())


async def stored_sessions(store: SessionStore) -> list[ChargingSession]:
    return (await store.query(SessionQuery())).items


async def charging(store: SessionStore) -> list[ChargingSession]:
    return (await store.query(SessionQuery(status=SessionStatus.CHARGING))).items


async def test_a_start_whose_acknowledgement_was_lost_is_a_start(faulty: FaultyStore) -> None:
    clock = FakeClock()
    service = await make_service(clock, faulty)
    faulty.fail("insert_active", Fault.LOST_ACK)
    session, created = await service.start("CP1")
    assert created
    assert service.state("CP1").status is ChargerStatus.CHARGING
    assert await charging(faulty.inner) == [session]
    clock.advance(60)
    await service.tick()
    assert await service.flush() == 1
    stored = await faulty.inner.get(session.session_id)
    assert stored.meter_wh == 366  # metered: not a ghost


async def test_a_start_lost_on_the_way_is_made_by_asking_again(faulty: FaultyStore) -> None:
    service = await make_service(FakeClock(), faulty)
    faulty.fail("insert_active", Fault.LOST_WRITE)
    session, created = await service.start("CP1")
    assert created
    assert await charging(faulty.inner) == [session]


async def charging_ten_minutes(
    faulty: FaultyStore,
) -> tuple[FakeClock, ChargingService, Recorder, ChargingSession]:
    """A service on `faulty` whose CP1 (22 kW) has charged for ten minutes, and its events."""
    clock = FakeClock()
    service = await make_service(clock, faulty)
    events = Recorder()
    service.subscribe(events)
    session, _ = await service.start("CP1")
    clock.advance(600)
    return clock, service, events, session


async def test_a_stop_whose_acknowledgement_was_lost_is_a_stop(faulty: FaultyStore) -> None:
    _, service, events, session = await charging_ten_minutes(faulty)
    faulty.fail("finish", Fault.LOST_ACK)
    stopped = await service.stop("CP1", "Unplugged")
    assert stopped.status is SessionStatus.STOPPED
    assert stopped.stop_reason == "Unplugged"
    assert stopped.meter_wh == 3666
    assert service.state("CP1").status is ChargerStatus.IDLE
    assert service.active_sessions() == []
    assert await faulty.inner.get(session.session_id) == stopped
    assert [e.status for e in events.changes] == [SessionStatus.CHARGING, SessionStatus.STOPPED]


async def test_an_unconfirmed_start_that_cannot_be_read_back_is_settled_later(
    faulty: FaultyStore,
) -> None:
    clock = FakeClock()
    service = await make_service(clock, faulty)
    faulty.fail("insert_active", Fault.LOST_ACK)
    faulty.fail("insert_active", Fault.DOWN)  # the repeat that would read it back
    with pytest.raises(WriteNotConfirmed) as raised:
        await service.start("CP1")
    message = raised.value.message
    assert "did not confirm the start" in message
    assert "charging is off" in message
    assert "nothing was changed" not in message
    assert service.state("CP1").status is ChargerStatus.IDLE
    assert service.unconfirmed == 1
    (ghost,) = await charging(faulty.inner)  # the insert did land
    shown = await service.get(ghost.session_id)
    assert shown.status is SessionStatus.STOPPED  # the service says what the store will hold

    clock.advance(30)
    assert await service.settle() == 1
    assert service.unconfirmed == 0
    assert await charging(faulty.inner) == []
    settled = await faulty.inner.get(ghost.session_id)
    assert settled.status is SessionStatus.STOPPED
    assert settled.stop_reason == DefaultStopReason.START_NOT_CONFIRMED
    assert settled.energy_consumed == 0.0  # charging was off the whole time
    assert await service.settle() == 0


async def test_an_unconfirmed_start_that_never_landed_can_never_land_later(
    faulty: FaultyStore,
) -> None:
    service = await make_service(FakeClock(), faulty)
    faulty.fail("insert_active", Fault.LOST_WRITE)
    faulty.fail("insert_active", Fault.LOST_WRITE)
    with pytest.raises(WriteNotConfirmed):
        await service.start("CP2")
    assert await stored_sessions(faulty.inner) == []
    await service.settle()
    (fenced,) = await stored_sessions(faulty.inner)
    assert fenced.status is SessionStatus.STOPPED
    assert fenced.stop_reason == DefaultStopReason.START_NOT_CONFIRMED
    # A late copy of the lost insert now finds its sessionId taken: it cannot start charging.
    late = fenced.model_copy(
        update={"status": SessionStatus.CHARGING, "end_time": None, "stop_reason": None}
    )
    again, _ = await faulty.inner.insert_active(late.model_copy(update={"id": None}))
    assert again.status is SessionStatus.STOPPED
    assert await charging(faulty.inner) == []


async def test_a_start_waits_for_the_last_unconfirmed_one_to_settle(faulty: FaultyStore) -> None:
    clock = FakeClock()
    service = await make_service(clock, faulty)
    faulty.fail("insert_active", Fault.LOST_ACK)
    faulty.fail("insert_active", Fault.DOWN, times=2)  # the repeat, then the next start's settle
    with pytest.raises(WriteNotConfirmed):
        await service.start("CP1")
    (ghost,) = await charging(faulty.inner)
    with pytest.raises(StoreUnavailable, match="not settled yet, so nothing was changed"):
        await service.start("CP1")
    clock.advance(3600)
    session, created = await service.start("CP1")  # settles the ghost first, then starts anew
    assert created
    assert session.session_id != ghost.session_id
    assert session.meter_start_wh == ghost.meter_start_wh  # the car did not charge meanwhile
    assert await charging(faulty.inner) == [session]
    assert (await faulty.inner.get(ghost.session_id)).status is SessionStatus.STOPPED


@pytest.mark.parametrize("fault", [Fault.LOST_ACK, Fault.LOST_WRITE])
async def test_an_unconfirmed_stop_is_in_effect_and_stored_later(
    faulty: FaultyStore, fault: Fault
) -> None:
    clock, service, events, session = await charging_ten_minutes(faulty)
    faulty.fail("finish", fault)
    faulty.fail("finish", Fault.DOWN)
    with pytest.raises(WriteNotConfirmed, match="charging is off, and the stop is stored"):
        await service.stop("CP1", "Unplugged")
    assert service.state("CP1").status is ChargerStatus.IDLE
    assert events.changes[-1].status is SessionStatus.STOPPED
    clock.advance(600)
    assert await service.tick() == []  # no longer metered
    shown = await service.get(session.session_id)
    assert shown.status is SessionStatus.STOPPED
    assert shown.meter_wh == 3666
    assert (await service.latest("CP1")).status is SessionStatus.STOPPED
    (listed,) = (await service.query(SessionQuery())).items
    assert listed == shown

    assert await service.settle() == 1
    stored = await faulty.inner.get(session.session_id)
    assert stored.status is SessionStatus.STOPPED
    assert stored.meter_wh == 3666
    assert stored.stop_reason == "Unplugged"
    assert await charging(faulty.inner) == []


async def test_an_unconfirmed_flush_keeps_the_readings(faulty: FaultyStore) -> None:
    clock = FakeClock()
    service = await make_service(clock, faulty)
    session, _ = await service.start("CP1")
    clock.advance(60)
    await service.tick()
    faulty.fail("save_readings", Fault.LOST_WRITE)
    with pytest.raises(StoreError):
        await service.flush()
    assert service.unsaved == 1
    assert await service.flush() == 1
    assert (await faulty.inner.get(session.session_id)).meter_wh == 366


async def test_the_flusher_settles_what_was_not_confirmed(faulty: FaultyStore) -> None:
    service = await make_service(FakeClock(), faulty)
    faulty.fail("insert_active", Fault.LOST_ACK)
    faulty.fail("insert_active", Fault.DOWN, times=3)  # the repeat and two flusher rounds
    with pytest.raises(WriteNotConfirmed):
        await service.start("CP2")
    ticker = Ticker(service, interval=0.01)
    stop = asyncio.Event()
    task = asyncio.create_task(ticker.run(stop))
    async with asyncio.timeout(10):
        while service.unconfirmed:  # noqa: ASYNC110 - polling state owned by the loop under test
            await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert ticker.stats.failed >= 2
    assert ticker.stats.settled == 1
    assert await charging(faulty.inner) == []


async def test_a_network_timeout_after_the_insert_landed_on_mongodb() -> None:
    """PyMongo raises NetworkTimeout although the server applied the insert."""
    faults = DriverFaults()
    store = mongo_store(mongomock_database(), faults)
    service: ChargingService = await make_service(FakeClock(), store)
    faults.fail("insert_one", NetworkTimeout("timed out"), applied=True)
    session, created = await service.start("CP1")
    assert created
    assert faults.raised == 1
    assert await charging(store) == [session]
    faults.fail("find_one_and_update", NetworkTimeout("timed out"), applied=True)
    stopped = await service.stop("CP1")
    assert stopped.session_id == session.session_id
    assert await charging(store) == []


async def test_rest_says_what_is_in_effect_when_a_start_is_not_confirmed(
    faulty: FaultyStore,
) -> None:
    service = await make_service(FakeClock(), faulty)

    async def ready() -> Readiness:
        return Readiness(ready=True, broker=True, database=True)

    app = create_app(service, ready, None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        faulty.fail("insert_active", Fault.LOST_ACK)
        faulty.fail("insert_active", Fault.DOWN)
        response = await client.post("/api/chargers/CP1/start")
        assert response.status_code == 503
        problem = response.json()
        assert problem["code"] == "unavailable"
        assert "did not confirm the start" in problem["detail"]
        assert "charging is off" in problem["detail"]
        assert (await client.get("/api/chargers/CP1")).json()["status"] == "Idle"
        assert (await client.post("/api/chargers/CP1/start")).status_code == 201
    assert len(await charging(faulty.inner)) == 1
