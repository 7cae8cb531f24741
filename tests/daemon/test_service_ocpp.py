"""The service as the OCPP central system's EventSink, driven with events on every store backend:
the fleet growing, transactions, meter values, the OCPP delivery rules, and a restart."""

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from evcsm_daemon.core.events import (
    AuthorizeRequested,
    ConnectorStatus,
    IdTagStatus,
    IdTagVerdict,
    StopOutcome,
)
from evcsm_daemon.errors import StoreUnavailable
from evcsm_daemon.store import SessionStore
from evcsm_schema import ChargerStatus, SessionQuery, SessionStatus
from evcsm_schema.session import DefaultStopReason

from tests.daemon.stations import ocpp_service
from tests.support.clock import FakeClock
from tests.support.faults import Fault, FaultyStore

Opener = Callable[[], Awaitable[SessionStore]]


async def test_a_connector_joins_the_fleet_when_first_seen(store: SessionStore) -> None:
    clock = FakeClock()
    service, _, events, station = await ocpp_service(store, clock)
    assert service.charger_ids() == ["CP1"]
    await station.boot()
    assert service.charger_ids() == ["CP1"]  # a boot names no connector
    await station.status(0, ConnectorStatus.AVAILABLE)
    await station.status(1, ConnectorStatus.AVAILABLE)
    await station.status(2, ConnectorStatus.PREPARING)
    assert service.charger_ids() == ["CP1", "ST-1", "ST-2"]
    assert [s.charger_id for s in events.chargers] == ["ST-1", "ST-2"]  # announced: retained
    state = service.state("ST-2")
    assert state.status is ChargerStatus.PREPARING
    assert (state.charge_point_id, state.connector_id) == ("ST", 2)
    assert (state.vendor, state.model, state.serial_number, state.firmware_version) == (
        "ACME",
        "Wallbox",
        "SN-1",
        "2.1",
    )
    assert state.last_message_at == clock.now
    assert service.state("ST-1").status is ChargerStatus.IDLE
    await station.status(1, ConnectorStatus.AVAILABLE)  # a repeat announces nothing
    assert len(events.chargers) == 2
    await station.status(0, ConnectorStatus.FAULTED, "GroundFailure")
    assert service.state("ST-1").status is ChargerStatus.FAULTED
    assert service.state("ST-1").error_code == "GroundFailure"
    await station.disconnect()
    assert {service.state(c).status for c in ("ST-1", "ST-2")} == {ChargerStatus.OFFLINE}
    assert events.chargers[-1].status is ChargerStatus.OFFLINE


async def test_a_transaction_is_a_session_metered_from_the_station_register(
    store: SessionStore,
) -> None:
    clock = FakeClock()
    service, _, events, station = await ocpp_service(store, clock)
    await station.boot()
    tx = await station.start(station.started_event(1, 52_000, "RFID-7"))
    assert 1 <= tx <= 2**31 - 1
    (session,) = [s for s in service.active_sessions() if s.charger_id == "ST-1"]
    assert session.transaction_id == tx
    assert (session.charge_point_id, session.connector_id, session.id_tag) == ("ST", 1, "RFID-7")
    assert session.meter_start_wh == 52_000
    assert events.changes[-1].session_id == session.session_id
    assert service.state("ST-1").status is ChargerStatus.CHARGING

    await station.meter(1, tx, (60, 52_183, None), (120, 52_550, 22.0))
    live = await service.get(session.session_id)
    assert live.meter_wh == 52_550
    assert live.energy_consumed == 0.55
    assert live.power_kw == 22.0
    assert await service.flush() == 1
    assert (await store.get(session.session_id)).meter_wh == 52_550
    await station.meter(1, tx, (180, 52_916, None))
    assert (await service.get(session.session_id)).power_kw == 21.96  # from the register's rise

    clock.advance(600)
    assert (await station.stop(tx, 55_300, "EVDisconnected")).known
    stopped = await store.get(session.session_id)
    assert stopped.status is SessionStatus.STOPPED
    assert stopped.energy_consumed == 3.3
    assert stopped.end_time == clock.now
    assert stopped.stop_reason == "EVDisconnected"
    assert stopped.transaction_id == tx
    assert events.changes[-1] == stopped
    assert service.state("ST-1").session == stopped


async def test_a_repeated_start_gets_the_same_transaction_id(store: SessionStore) -> None:
    _, _, _, station = await ocpp_service(store, FakeClock())
    event = station.started_event(1, 1000)
    first = await station.start(event)
    assert await station.start(event) == first
    second = await station.start(station.started_event(2, 500))
    assert second != first
    assert (await store.query(SessionQuery())).total == 2
    await station.stop(first, 1500)
    assert await station.start(event) == first  # even after its stop
    assert (await store.query(SessionQuery())).total == 2


async def test_a_repeated_stop_changes_nothing(store: SessionStore) -> None:
    clock = FakeClock()
    _, _, events, station = await ocpp_service(store, clock)
    tx = await station.start(station.started_event(1, 1000))
    assert (await station.stop(tx, 1800, "Local")).known
    stopped = await store.by_transaction(tx)
    announced = len(events.changes)
    clock.advance(60)
    assert (await station.stop(tx, 9999, "Remote", at_s=0)) == StopOutcome(known=True)
    assert await store.by_transaction(tx) == stopped
    assert len(events.changes) == announced


async def test_a_stop_of_an_unknown_transaction_is_answered_and_changes_nothing(
    store: SessionStore,
) -> None:
    _, _, events, station = await ocpp_service(store, FakeClock())
    assert (await station.stop(4242, 1000)) == StopOutcome(known=False)
    assert (await store.query(SessionQuery())).total == 0
    assert events.changes == []


async def test_late_meter_values_never_take_the_register_or_the_time_back(
    store: SessionStore,
) -> None:
    clock = FakeClock()
    service, _, _, station = await ocpp_service(store, clock)
    tx = await station.start(station.started_event(1, 0))
    await station.meter(1, tx, (300, 2_000, 11.0))
    await station.meter(1, tx, (120, 800, 4.0), (60, 400, 2.0))  # queued while offline
    await station.meter(1, None, (30, 200, None))  # no transaction id: the connector's session
    live = service.active_sessions()[-1]
    assert live.meter_wh == 2_000
    assert live.power_kw == 11.0
    assert live.updated_at == clock.now + timedelta(seconds=300)
    await service.flush()
    stored = await store.get(live.session_id)
    assert (stored.meter_wh, stored.updated_at) == (2_000, live.updated_at)


async def test_a_start_on_a_busy_connector_closes_the_open_session_first(
    store: SessionStore,
) -> None:
    clock = FakeClock()
    _, _, events, station = await ocpp_service(store, clock)
    old = await station.start(station.started_event(1, 0, "A"))
    await station.meter(1, old, (60, 300, None))
    clock.advance(3600)  # the old StopTransaction was lost
    new = await station.start(station.started_event(1, 350, "B"))
    closed = await store.by_transaction(old)
    assert closed is not None
    assert closed.status is SessionStatus.STOPPED
    assert closed.stop_reason == DefaultStopReason.SUPERSEDED
    assert closed.end_time == clock.now
    assert closed.meter_wh == 300
    opened = await store.active("ST-1")
    assert opened is not None
    assert opened.transaction_id == new
    assert [e.status for e in events.changes[-2:]] == [
        SessionStatus.STOPPED,
        SessionStatus.CHARGING,
    ]


async def test_authorize_accepts_any_tag_and_the_hook_decides(store: SessionStore) -> None:
    blocked = {"STOLEN"}

    def allow(id_tag: str) -> IdTagStatus:
        return IdTagStatus.BLOCKED if id_tag in blocked else IdTagStatus.ACCEPTED

    clock = FakeClock()
    service, _, _, station = await ocpp_service(store, clock, authorize=allow)
    assert await service.handle(AuthorizeRequested("ST", clock.now, "ANY")) == IdTagVerdict(
        IdTagStatus.ACCEPTED
    )
    assert await service.handle(AuthorizeRequested("ST", clock.now, "STOLEN")) == IdTagVerdict(
        IdTagStatus.BLOCKED
    )
    outcome = await service.handle(station.started_event(1, 0, "STOLEN"))
    assert getattr(outcome, "status", None) is IdTagStatus.BLOCKED  # the station ends it itself


async def test_a_start_the_store_could_not_take_is_taken_when_the_station_repeats_it(
    stores: Opener,
) -> None:
    faulty = FaultyStore(await stores())
    _, _, events, station = await ocpp_service(faulty, FakeClock())
    event = station.started_event(1, 1000)
    faulty.fail("insert_active", Fault.DOWN)
    with pytest.raises(StoreUnavailable):
        await station.start(event)
    assert await faulty.inner.active("ST-1") is None
    assert events.changes == []
    tx = await station.start(event)  # the station sends it again
    stored = await faulty.inner.active("ST-1")
    assert stored is not None
    assert stored.transaction_id == tx
    assert stored.start_time == event.at  # the station's own time and register
    assert stored.meter_start_wh == 1000


async def test_a_lost_acknowledgement_of_a_start_gives_one_session(stores: Opener) -> None:
    faulty = FaultyStore(await stores())
    _, _, _, station = await ocpp_service(faulty, FakeClock())
    faulty.fail("insert_active", Fault.LOST_ACK)
    tx = await station.start(station.started_event(1, 1000))
    assert (await faulty.inner.query(SessionQuery())).total == 1
    assert (await faulty.inner.active("ST-1") or None) is not None
    assert (await faulty.inner.by_transaction(tx)) is not None


async def test_a_restart_keeps_ocpp_sessions_open_until_the_station_reports(
    stores: Opener,
) -> None:
    clock = FakeClock()
    before, _, _, station = await ocpp_service(await stores(), clock)
    await station.boot()
    await station.status(1, ConnectorStatus.CHARGING)
    one = await station.start(station.started_event(1, 0))
    two = await station.start(station.started_event(2, 7_000))
    await station.meter(1, one, (60, 366, None))
    await before.flush()
    # The daemon stops; its stations keep charging and queue their messages; a new one starts.
    clock.advance(1800)
    store = await stores()
    after, _, events, again = await ocpp_service(store, clock)
    assert after.charger_ids() == ["CP1", "ST-1", "ST-2"]
    assert {after.state(c).status for c in ("ST-1", "ST-2")} == {ChargerStatus.OFFLINE}
    assert {s.transaction_id for s in after.active_sessions()} == {one, two}
    assert (await store.active("ST-1")) is not None  # still Charging in the store
    await again.connect()
    assert after.state("ST-1").status is ChargerStatus.CHARGING  # no report yet: the session
    await again.meter(1, one, (-1200, 5_000, None))  # queued meter values continue it
    assert (await again.stop(one, 9_000, "EVDisconnected", at_s=-600)).known  # queued stop
    stopped = await store.by_transaction(one)
    assert stopped is not None
    assert stopped.status is SessionStatus.STOPPED
    assert stopped.meter_wh == 9_000
    assert stopped.end_time == clock.now - timedelta(seconds=600)
    still = await store.by_transaction(two)
    assert still is not None
    assert still.active
    assert events.changes[-1].session_id == stopped.session_id
