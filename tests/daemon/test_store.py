"""The store conformance suite: every backend (tests/support/stores.py) passes every test here.

The `store` and `stores` fixtures (tests/conftest.py) run each test on MongoStore over
mongomock-motor (PyMongo's code path), the in-process store and a SQLite file. What only one
backend has (MongoDB's document shape, SQLite's file) is tested beside this, in
test_store_mongo.py and test_store_sqlite.py.
"""

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from evcsm_daemon.core.sessions import MeterReading, begin, finish, observe
from evcsm_daemon.errors import SessionNotFound, StoreUnavailable
from evcsm_daemon.store import SessionStore
from evcsm_schema import ChargingSession, SessionQuery, SessionStatus

from tests.support.clock import T0
from tests.support.faults import Fault, FaultyStore

Opener = Callable[[], Awaitable[SessionStore]]


async def charging_count(store: SessionStore) -> int:
    return (await store.query(SessionQuery(status=SessionStatus.CHARGING))).total


async def test_sessions_read_back_as_stored(store: SessionStore) -> None:
    session, created = await store.insert_active(begin("CP1", 500, T0))
    assert created
    assert session.id is not None
    assert len(session.id) == 24
    stored = await store.get(session.session_id)
    assert stored == session
    assert stored.status is SessionStatus.CHARGING
    assert stored.start_time == T0
    assert stored.start_time.utcoffset() == timedelta(0)
    assert stored.energy_consumed == 0.0
    assert stored.end_time is None  # only on completed sessions
    assert stored.charger_id == "CP1"

    later = T0 + timedelta(minutes=30, milliseconds=123)
    stopped = await store.finish(finish(session, MeterReading(15_700, 0), later, "Done"))
    assert stopped is not None
    assert stopped == await store.get(session.session_id)
    assert stopped.id == session.id
    assert stopped.status is SessionStatus.STOPPED
    assert stopped.end_time == later
    assert stopped.energy_consumed == 15.2
    assert stopped.meter_wh == 15_700
    assert stopped.power_kw == 0.0
    assert stopped.stop_reason == "Done"


async def test_one_active_session_per_charger_under_concurrent_starts(store: SessionStore) -> None:
    attempts = [begin("CP1", 0, T0) for _ in range(25)] + [begin("CP2", 0, T0) for _ in range(25)]
    results = await asyncio.gather(*(store.insert_active(s) for s in attempts))
    created = [s for s, new in results if new]
    assert sorted(s.charger_id for s in created) == ["CP1", "CP2"]
    winners = {s.charger_id: s.session_id for s in created}
    assert all(s.session_id == winners[s.charger_id] for s, _ in results)
    assert await charging_count(store) == 2
    assert {s.session_id for s in await store.all_active()} == set(winners.values())


async def test_two_stores_on_one_database_share_the_guarantee(stores: Opener) -> None:
    first, second = await stores(), await stores()
    attempts = [begin("CP1", 0, T0) for _ in range(10)]
    results = await asyncio.gather(
        *(store.insert_active(s) for store, s in zip(itertools.cycle((first, second)), attempts))
    )
    assert sum(created for _, created in results) == 1
    assert len({s.session_id for s, _ in results}) == 1
    (winner,) = [s for s, created in results if created]
    assert await second.active("CP1") == winner
    assert await first.finish(finish(winner, MeterReading(10, 0), T0, None)) is not None
    assert await second.active("CP1") is None


async def test_a_stopped_session_frees_the_charger(store: SessionStore) -> None:
    first, _ = await store.insert_active(begin("CP1", 0, T0))
    await store.finish(finish(first, MeterReading(10, 0), T0, None))
    second, created = await store.insert_active(begin("CP1", 10, T0 + timedelta(seconds=1)))
    assert created
    assert second.session_id != first.session_id
    assert (await store.active("CP1")) == second


async def test_readings_only_move_forward_and_never_touch_stopped_sessions(
    store: SessionStore,
) -> None:
    session, _ = await store.insert_active(begin("CP1", 0, T0))
    ahead = observe(session, MeterReading(2000, 11), T0 + timedelta(seconds=2))
    behind = observe(session, MeterReading(1000, 11), T0 + timedelta(seconds=1))
    await store.save_readings([ahead])
    await store.save_readings([behind])  # late write from a slower tick
    stored = await store.get(session.session_id)
    assert stored.meter_wh == 2000
    assert stored.energy_consumed == 2.0
    assert stored.power_kw == 11.0
    assert stored.updated_at == T0 + timedelta(seconds=2)  # a late write's time never lowers it
    assert stored.updated_at.utcoffset() == timedelta(0)

    stopped = await store.finish(
        finish(ahead, MeterReading(2500, 0), T0 + timedelta(seconds=3), None)
    )
    assert stopped is not None
    late = observe(ahead, MeterReading(9000, 11), T0 + timedelta(seconds=4))
    await store.save_readings([late])
    stored = await store.get(session.session_id)
    assert stored.status is SessionStatus.STOPPED
    assert stored.meter_wh == 2500
    assert await store.finish(finish(late, MeterReading(9000, 0), T0, None)) is None


async def test_a_stop_never_lowers_the_register(store: SessionStore) -> None:
    session, _ = await store.insert_active(begin("CP1", 0, T0))
    await store.save_readings([observe(session, MeterReading(3000, 11), T0 + timedelta(seconds=5))])
    stopped = await store.finish(
        finish(session, MeterReading(2000, 0), T0 + timedelta(seconds=6), None)
    )
    assert stopped is not None
    assert stopped.meter_wh == 3000
    assert stopped.energy_consumed == 3.0


async def test_bulk_readings_for_many_sessions(store: SessionStore) -> None:
    sessions = [(await store.insert_active(begin(f"CP{k}", 0, T0)))[0] for k in range(50)]
    readings = [
        observe(s, MeterReading(k * 10, 3.5), T0 + timedelta(seconds=1))
        for k, s in enumerate(sessions)
    ]
    unknown = observe(begin("CPX", 0, T0), MeterReading(5, 1), T0)  # never stored: ignored
    await store.save_readings([*readings, unknown])
    await store.save_readings([])
    for k, session in enumerate(sessions):
        stored = await store.get(session.session_id)
        assert stored.meter_wh == k * 10
        assert stored.power_kw == 3.5
    with pytest.raises(SessionNotFound):
        await store.get(unknown.session_id)


async def test_query_filters_and_pages(store: SessionStore) -> None:
    for k in range(12):
        charger = "CP1" if k % 2 else "CP2"
        session, _ = await store.insert_active(begin(charger, 0, T0 + timedelta(hours=k)))
        if k < 10:
            await store.finish(
                finish(session, MeterReading(k, 0), T0 + timedelta(hours=k, minutes=5), None)
            )
    page = await store.query(SessionQuery(limit=5))
    assert page.total == 12
    assert [s.start_time for s in page.items] == [T0 + timedelta(hours=h) for h in range(11, 6, -1)]
    second = await store.query(SessionQuery(limit=5, offset=5))
    assert [s.start_time.hour for s in second.items] == [
        (T0 + timedelta(hours=h)).hour for h in range(6, 1, -1)
    ]
    cp1 = await store.query(SessionQuery(charger_id="CP1"))
    assert cp1.total == 6
    assert {s.charger_id for s in cp1.items} == {"CP1"}
    charging = await store.query(SessionQuery(status=SessionStatus.CHARGING))
    assert charging.total == 2
    window = await store.query(
        SessionQuery(since=T0 + timedelta(hours=3), until=T0 + timedelta(hours=6))
    )
    assert sorted(s.start_time.hour for s in window.items) == [11, 12, 13]  # 08:00 + 3..5 h


async def test_every_filter_and_page_matches_a_plain_scan(store: SessionStore) -> None:
    """Pages of every filter combination against a list filtered and sorted by hand."""
    everything: list[ChargingSession] = []
    for k in range(40):
        charger = ("CP1", "CP2", "CP3")[k % 3]
        start = T0 + timedelta(minutes=7 * (k // 2))  # pairs share a start time
        session, created = await store.insert_active(begin(charger, 0, start))
        assert created
        if k < 37:
            done = await store.finish(finish(session, MeterReading(k, 0), start, None))
            assert done is not None
            session = done
        everything.append(session)
    newest_first = sorted(everything, key=lambda s: (s.start_time, s.id or ""), reverse=True)
    times = (None, T0 + timedelta(minutes=21), T0 + timedelta(minutes=100))
    for only, status, since, until in itertools.product(
        (None, "CP1", "CP3", "CP9"), (None, *SessionStatus), times, times
    ):
        matching = [
            s
            for s in newest_first
            if only in (None, s.charger_id)
            and status in (None, s.status)
            and (since is None or s.start_time >= since)
            and (until is None or s.start_time < until)
        ]
        for offset, limit in ((0, 5), (3, 4), (11, 100), (40, 1)):
            query = SessionQuery(
                charger_id=only,
                status=status,
                since=since,
                until=until,
                offset=offset,
                limit=limit,
            )
            page = await store.query(query)
            assert page.total == len(matching), query
            assert page.items == matching[offset : offset + limit], query


async def test_pages_by_status_follow_starts_readings_and_stops(store: SessionStore) -> None:
    """Counts and pages by status (with offsets, a time range, ties in start time) stay exact
    as sessions start, take readings and stop between the queries."""
    known: dict[str, ChargingSession] = {}
    times = (None, T0 + timedelta(minutes=2), T0 + timedelta(minutes=4))

    async def check() -> None:
        newest_first = sorted(known.values(), key=lambda s: (s.start_time, s.id or ""))[::-1]
        for status, since, until in itertools.product((None, *SessionStatus), times, times):
            matching = [
                s
                for s in newest_first
                if status in (None, s.status)
                and (since is None or s.start_time >= since)
                and (until is None or s.start_time < until)
            ]
            for offset in (0, 2, 5):
                query = SessionQuery(
                    status=status, since=since, until=until, offset=offset, limit=3
                )
                page = await store.query(query)
                assert (page.total, page.items) == (len(matching), matching[offset : offset + 3])

    for minute in range(6):
        start = T0 + timedelta(minutes=minute)
        for charger in ("CP1", "CP2", "CP3"):  # three sessions share each start time
            active = await store.active(charger)
            if active is not None and (minute + int(charger[-1])) % 2:
                done = await store.finish(finish(active, MeterReading(9, 0), start, None))
                assert done is not None
                known[done.session_id] = done
            if await store.active(charger) is None:
                started, _ = await store.insert_active(begin(charger, 0, start))
                known[started.session_id] = started
            await check()
        charging = [s for s in known.values() if s.active]
        readings = [observe(s, MeterReading(100 * minute, 2.0), start) for s in charging]
        await store.save_readings(readings)
        known.update({s.session_id: await store.get(s.session_id) for s in charging})
        await check()


async def test_latest_and_get(store: SessionStore) -> None:
    assert await store.latest("CP1") is None
    old, _ = await store.insert_active(begin("CP1", 0, T0))
    await store.finish(finish(old, MeterReading(5, 0), T0, None))
    new, _ = await store.insert_active(begin("CP1", 5, T0 + timedelta(hours=1)))
    latest = await store.latest("CP1")
    assert latest is not None
    assert latest.session_id == new.session_id
    assert (await store.get(old.session_id)).status is SessionStatus.STOPPED
    with pytest.raises(Exception, match="no session with id"):
        await store.get("nope")
    with pytest.raises(SessionNotFound):
        await store.get("nope")
    assert await store.ping()


async def test_a_stop_of_an_unknown_session_stores_nothing(store: SessionStore) -> None:
    never = begin("CP1", 0, T0)
    assert await store.finish(finish(never, MeterReading(10, 0), T0, None)) is None
    assert (await store.query(SessionQuery())).total == 0


async def test_a_repeated_insert_reads_back_the_first(store: SessionStore) -> None:
    """An insert whose acknowledgement was lost, asked again: it answers as the first did."""
    faulty = FaultyStore(store)
    faulty.fail("insert_active", Fault.LOST_ACK)
    session = begin("CP1", 0, T0)
    with pytest.raises(Exception, match="did not confirm"):
        await faulty.insert_active(session)
    again, created = await faulty.insert_active(session)
    assert created
    assert again.session_id == session.session_id
    assert again == await store.get(session.session_id)
    assert (await store.query(SessionQuery())).total == 1
    other, created = await store.insert_active(begin("CP1", 0, T0))
    assert not created
    assert other == again


async def test_a_repeated_insert_of_a_session_stopped_since_reads_it_back(
    store: SessionStore,
) -> None:
    session = begin("CP1", 0, T0)
    stored, _ = await store.insert_active(session)
    await store.finish(finish(stored, MeterReading(7, 0), T0, "elsewhere"))
    again, created = await store.insert_active(session)
    assert created  # it is this session, stored once
    assert again.status is SessionStatus.STOPPED
    assert await store.active("CP1") is None
    assert (await store.query(SessionQuery())).total == 1


async def test_a_repeated_stop_changes_nothing_more(store: SessionStore) -> None:
    faulty = FaultyStore(store)
    session, _ = await store.insert_active(begin("CP1", 0, T0))
    stopped = finish(session, MeterReading(4000, 0), T0 + timedelta(minutes=10), "Done")
    faulty.fail("finish", Fault.LOST_ACK)
    with pytest.raises(Exception, match="did not confirm"):
        await faulty.finish(stopped)
    first = await store.get(session.session_id)
    assert first.status is SessionStatus.STOPPED
    later = finish(session, MeterReading(4000, 0), T0 + timedelta(minutes=11), "Again")
    assert await faulty.finish(later) is None
    assert await store.get(session.session_id) == first


async def test_repeated_readings_leave_what_one_write_leaves(store: SessionStore) -> None:
    faulty = FaultyStore(store)
    session, _ = await store.insert_active(begin("CP1", 0, T0))
    reading = observe(session, MeterReading(1200, 11), T0 + timedelta(seconds=30))
    faulty.fail("save_readings", Fault.LOST_ACK)
    with pytest.raises(Exception, match="did not confirm"):
        await faulty.save_readings([reading])
    once = await store.get(session.session_id)
    await faulty.save_readings([reading])
    assert await store.get(session.session_id) == once
    assert once.meter_wh == 1200


async def test_ties_in_start_time_order_by_id_newest_first(store: SessionStore) -> None:
    made = [(await store.insert_active(begin(f"CP{k}", 0, T0)))[0] for k in range(5)]
    page = await store.query(SessionQuery())
    assert [s.session_id for s in page.items] == [s.session_id for s in reversed(made)]
    await store.finish(finish(made[0], MeterReading(0, 0), T0, None))
    again, _ = await store.insert_active(begin("CP0", 0, T0))
    assert (await store.latest("CP0")) == again  # same start time, newer id


async def test_transaction_ids_are_unique_and_counted_by_the_database(stores: Opener) -> None:
    first, second = await stores(), await stores()
    ids = await asyncio.gather(
        *(
            store.next_transaction_id()
            for store in itertools.islice(itertools.cycle((first, second)), 40)
        )
    )
    assert sorted(ids) == list(range(1, 41))  # two daemons on one database share the counter
    assert await (await stores()).next_transaction_id() == 41


async def test_a_transaction_id_is_stored_once_and_found_by_it(store: SessionStore) -> None:
    tx = await store.next_transaction_id()
    session, created = await store.insert_active(ocpp_session("ST-1", 1, tx))
    assert created
    assert session.transaction_id == tx
    assert session.charge_point_id == "ST-1"
    assert session.connector_id == 1
    assert session.id_tag == "TAG"
    assert await store.by_transaction(tx) == session
    assert await store.by_transaction(tx + 1) is None
    clash = ocpp_session("ST-1", 2, tx)
    with pytest.raises(StoreUnavailable, match="taken"):
        await store.insert_active(clash)
    with pytest.raises(SessionNotFound):
        await store.get(clash.session_id)
    stopped = await store.finish(finish(session, MeterReading(900, 0), T0, "Local"))
    assert stopped is not None
    assert await store.by_transaction(tx) == stopped


async def test_a_repeated_start_transaction_keeps_the_first_transaction_id(
    store: SessionStore,
) -> None:
    """A StartTransaction repeated: same idempotency key, so same sessionId; a fresh id loses."""
    first = ocpp_session("ST-1", 1, await store.next_transaction_id())
    stored, created = await store.insert_active(first)
    assert created
    repeat = first.model_copy(update={"transaction_id": await store.next_transaction_id()})
    again, created = await store.insert_active(repeat)
    assert created  # the same session, stored once
    assert again == stored
    assert again.transaction_id == first.transaction_id
    assert await store.by_transaction(repeat.transaction_id or 0) is None
    assert (await store.query(SessionQuery())).total == 1


async def test_ocpp_chargers_are_those_with_a_stored_ocpp_session(store: SessionStore) -> None:
    assert await store.ocpp_chargers() == []
    await store.insert_active(begin("CP1", 0, T0))  # simulated: not listed
    for station, connector in (("ST-2", 1), ("ST-1", 2), ("ST-1", 2)):
        session = ocpp_session(station, connector, await store.next_transaction_id())
        stored, _ = await store.insert_active(session)
        await store.finish(finish(stored, MeterReading(200, 0), T0, "Local"))
    assert await store.ocpp_chargers() == ["ST-1-2", "ST-2-1"]


def ocpp_session(station: str, connector: int, tx: int) -> ChargingSession:
    return begin(f"{station}-{connector}", 100, T0).model_copy(
        update={
            "transaction_id": tx,
            "charge_point_id": station,
            "connector_id": connector,
            "id_tag": "TAG",
        }
    )
