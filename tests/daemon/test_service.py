"""The service: start, stop, tick and resume, with a fake clock and the in-process store."""

import asyncio
from collections.abc import Sequence

import pytest
from evcsm_daemon.chargers import ChargerSpec, SimulatedCharger, SimulatedFleet
from evcsm_daemon.core.profile import ChargeProfile
from evcsm_daemon.errors import NoActiveSession, SessionNotFound, StoreUnavailable, UnknownCharger
from evcsm_daemon.service import TICK_SLICE, ChargingService
from evcsm_daemon.store import open_store
from evcsm_daemon.store.memory import MemoryStore
from evcsm_schema import ChargerStatus, ChargingSession, SessionQuery, SessionStatus
from evcsm_schema.session import DefaultStopReason

from tests.support.clock import FakeClock
from tests.support.service import Recorder, fleet, make_service


async def test_start_tick_stop_meters_energy() -> None:
    clock = FakeClock()
    service = await make_service(clock)
    events = Recorder()
    service.subscribe(events)

    session, created = await service.start("CP1")
    assert created
    assert service.state("CP1").status is ChargerStatus.CHARGING
    clock.advance(60)
    (ticked,) = await service.tick()
    assert ticked.meter_wh == 366  # 22 kW for 60 s
    assert ticked.energy_consumed == 0.366
    assert ticked.power_kw == 22.0
    clock.advance(540)
    stopped = await service.stop("CP1", "Unplugged")
    assert stopped.status is SessionStatus.STOPPED
    assert stopped.energy_consumed == 3.666
    assert stopped.end_time == clock.now.replace(microsecond=0)
    assert stopped.stop_reason == "Unplugged"
    assert [e.status for e in events.changes] == [SessionStatus.CHARGING, SessionStatus.STOPPED]
    assert events.states[-1].status is ChargerStatus.IDLE
    assert events.ticks == [[ticked]]
    stored = await service.store.get(session.session_id)
    assert stored == stopped


async def test_start_twice_returns_the_same_session() -> None:
    service = await make_service(FakeClock())
    first, created = await service.start()
    again, created_again = await service.start()
    assert created
    assert not created_again
    assert again.session_id == first.session_id
    assert first.charger_id == "CP1"  # the default charger


async def test_concurrent_starts_make_one_session() -> None:
    service = await make_service(FakeClock())
    results = await asyncio.gather(*(service.start("CP2") for _ in range(20)))
    assert len({s.session_id for s, _ in results}) == 1
    assert sum(created for _, created in results) == 1


class CountingStore(MemoryStore):
    """The in-process store, counting the calls a command makes."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def active(self, charger_id: str) -> ChargingSession | None:
        self.calls.append("active")
        return await super().active(charger_id)

    async def insert_active(self, session: ChargingSession) -> tuple[ChargingSession, bool]:
        self.calls.append("insert_active")
        return await super().insert_active(session)


async def test_a_start_is_one_store_call_and_finds_a_session_active_elsewhere() -> None:
    """A start writes without reading first (each call is a round trip to the database); the
    write answers with another daemon's active session, which the start then reports."""
    clock = FakeClock()
    store = CountingStore()
    first = await make_service(clock, store)
    second = await make_service(clock, store)
    store.calls.clear()
    mine, created = await first.start("CP1")
    assert created
    assert store.calls == ["insert_active"]
    store.calls.clear()
    theirs, created = await second.start("CP1")
    assert (theirs.session_id, created) == (mine.session_id, False)
    assert store.calls == ["insert_active"]
    assert second.state("CP1").status is ChargerStatus.CHARGING


async def test_two_daemons_on_one_database_never_make_two_sessions() -> None:
    clock = FakeClock()
    store = open_store("memory")
    first = await make_service(clock, store)
    second = await make_service(clock, store)
    results = await asyncio.gather(first.start("CP1"), second.start("CP1"), first.start("CP1"))
    assert len({s.session_id for s, _ in results}) == 1
    page = await store.query(SessionQuery(charger_id="CP1"))
    assert page.total == 1


async def test_stop_on_idle_charger_is_a_clear_error() -> None:
    service = await make_service(FakeClock())
    with pytest.raises(NoActiveSession, match="no active session on charger 'CP2'"):
        await service.stop("CP2")
    assert (await service.store.query(SessionQuery())).total == 0


async def test_unknown_charger_changes_nothing() -> None:
    service = await make_service(FakeClock())
    with pytest.raises(UnknownCharger, match="'CP9'"):
        await service.start("CP9")
    with pytest.raises(UnknownCharger):
        await service.stop("CP9")
    assert (await service.store.query(SessionQuery())).total == 0


async def test_latest_serves_the_seed_status() -> None:
    clock = FakeClock()
    service = await make_service(clock)
    with pytest.raises(SessionNotFound):
        await service.latest()
    session, _ = await service.start()
    clock.advance(10)
    await service.tick()
    live = await service.latest()
    assert live.session_id == session.session_id
    assert live.meter_wh == 61
    await service.stop()
    assert (await service.latest()).status is SessionStatus.STOPPED


async def test_resume_carries_on_metering_from_the_meter() -> None:
    clock = FakeClock()
    store = open_store("memory")
    before = await make_service(clock, store)
    session, _ = await before.start("CP1")
    clock.advance(60)
    await before.tick()
    # The daemon dies here; ten minutes pass; a new one starts on the same database.
    clock.advance(600)
    after = await make_service(clock, store)
    (resumed,) = after.active_sessions()
    assert resumed.session_id == session.session_id
    assert resumed.meter_wh == 4033  # 22 kW for 660 s: the car kept charging
    clock.advance(60)
    (ticked,) = await after.tick()
    assert ticked.meter_wh == 4400
    again, created = await after.start("CP1")
    assert not created
    assert again.session_id == session.session_id


async def test_register_continues_after_restart_when_idle() -> None:
    clock = FakeClock()
    store = open_store("memory")
    before = await make_service(clock, store)
    await before.start("CP1")
    clock.advance(3600)
    await before.stop("CP1")
    after = await make_service(clock, store)
    second, _ = await after.start("CP1")
    assert second.meter_start_wh == 22000


async def test_sessions_on_removed_chargers_are_stopped_on_resume() -> None:
    clock = FakeClock()
    store = open_store("memory")
    await store.ensure_indexes()
    old = ChargingService(store, fleet(("OLD", 7.0)), clock=clock)
    session, _ = await old.start("OLD")
    clock.advance(60)
    await old.tick()
    await old.flush()
    await make_service(clock, store)  # configured with CP1 and CP2 only
    stored = await store.get(session.session_id)
    assert stored.status is SessionStatus.STOPPED
    assert stored.stop_reason == DefaultStopReason.CHARGER_GONE
    assert stored.meter_wh == 116


async def test_a_flush_racing_a_stop_does_not_undo_it() -> None:
    clock = FakeClock()
    service = await make_service(clock)
    await service.start("CP1")
    clock.advance(30)
    await service.tick()
    flush = asyncio.create_task(service.flush())
    stop = asyncio.create_task(service.stop("CP1"))
    await asyncio.gather(flush, stop)
    await service.flush()
    assert service.active_sessions() == []
    assert service.state("CP1").status is ChargerStatus.IDLE
    latest = await service.store.latest("CP1")
    assert latest is not None
    assert latest.status is SessionStatus.STOPPED
    assert latest.meter_wh == 183


async def test_flush_stores_the_latest_reading_once_per_session() -> None:
    clock = FakeClock()
    store = open_store("memory")
    service = await make_service(clock, store)
    await service.start("CP1")
    await service.start("CP2")
    saved: list[list[ChargingSession]] = []
    real_save = store.save_readings

    async def recording_save(sessions: Sequence[ChargingSession]) -> None:
        saved.append(list(sessions))
        await real_save(sessions)

    store.save_readings = recording_save  # type: ignore[method-assign]
    for _ in range(3):
        clock.advance(60)
        await service.tick()
    assert service.unsaved == 2
    assert await service.flush() == 2
    (batch,) = saved
    assert sorted((s.charger_id, s.meter_wh) for s in batch) == [("CP1", 1100), ("CP2", 550)]
    stored = await store.active("CP1")
    assert stored is not None
    assert stored.meter_wh == 1100
    assert stored.energy_consumed == 1.1
    assert await service.flush() == 0
    assert len(saved) == 1  # nothing new: no write


async def test_readings_survive_a_failed_flush() -> None:
    clock = FakeClock()
    store = open_store("memory")
    service = await make_service(clock, store)
    await service.start("CP1")
    real_save = store.save_readings

    async def failing_save(sessions: Sequence[ChargingSession]) -> None:
        raise StoreUnavailable("database unavailable: connection refused")

    store.save_readings = failing_save  # type: ignore[method-assign]
    clock.advance(60)
    await service.tick()
    with pytest.raises(StoreUnavailable):
        await service.flush()
    assert service.unsaved == 1
    clock.advance(60)
    await service.tick()  # a newer reading replaces the one still waiting
    store.save_readings = real_save  # type: ignore[method-assign]
    assert await service.flush() == 1
    stored = await store.active("CP1")
    assert stored is not None
    assert stored.meter_wh == 733


async def test_queries_show_active_sessions_live_before_any_flush() -> None:
    clock = FakeClock()
    service = await make_service(clock)
    session, _ = await service.start("CP1")
    clock.advance(60)
    await service.tick()
    page = await service.query(SessionQuery())
    (item,) = page.items
    assert item.session_id == session.session_id
    assert item.meter_wh == 366
    assert (await service.get(session.session_id)).meter_wh == 366


async def test_a_simulated_chargers_state_says_how_fast_its_meter_runs() -> None:
    store = open_store("memory")
    await store.ensure_indexes()
    fast = SimulatedCharger(
        ChargerSpec("CP1", 22.0), profile=ChargeProfile(max_power_kw=22.0), speed=10.0
    )
    service = ChargingService(store, SimulatedFleet([fast]), clock=FakeClock())
    state = service.state("CP1")
    assert state.simulation_speed == 10.0
    assert b'"simulationSpeed":10.0' in state.to_json()
    assert ChargerSpec("CP9", 50.0).simulation_speed is None  # a real charger's spec


async def test_a_command_runs_between_two_slices_of_a_tick() -> None:
    """A tick of a large fleet lets the event loop run between slices: a stop that arrives
    meanwhile is done before the tick is, and the tick neither reads nor reports its charger."""
    clock = FakeClock()
    ids = [f"CP{number}" for number in range(3 * TICK_SLICE)]
    store = open_store("memory")
    service = ChargingService(store, fleet(*[(cid, 22.0) for cid in ids]), clock=clock)
    await service.resume()
    for charger_id in ids:
        await service.start(charger_id)
    events = Recorder()
    service.subscribe(events)
    clock.advance(60)

    tick = asyncio.create_task(service.tick(), name="test-tick")
    await asyncio.sleep(0)  # the tick reads its first slice, then lets the loop run
    stopped = await service.stop(ids[-1])
    assert not tick.done()
    ticked = await tick

    assert stopped.meter_wh == 366
    assert [session.charger_id for session in ticked] == ids[:-1]
    assert {session.meter_wh for session in ticked} == {366}  # every reading taken at one time
    assert events.ticks == [ticked]
    assert [session.session_id for session in events.changes] == [stopped.session_id]
    assert await service.get(stopped.session_id) == stopped
