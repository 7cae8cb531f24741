"""The session store on mongomock-motor, through the same code as production."""

import asyncio
from datetime import timedelta

import pytest
from bson import ObjectId
from evcsm_daemon.core.sessions import MeterReading, begin, finish, observe
from evcsm_daemon.store import SessionStore, open_store
from evcsm_schema import SessionQuery, SessionStatus

from tests.support.clock import T0


@pytest.fixture(params=["direct", "update_one"])
async def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> SessionStore:
    """The in-process store, with readings written directly and through the public fallback."""
    if request.param == "update_one":
        monkeypatch.setattr("evcsm_daemon.store.sessions.documents_of", lambda _collection: None)
    opened = open_store("memory")
    await opened.ensure_indexes()
    assert (opened._memory_documents is None) == (request.param == "update_one")
    return opened


async def raw(store: SessionStore, session_id: str) -> dict[str, object]:
    doc = await store._sessions.find_one({"sessionId": session_id})
    assert doc is not None
    return dict(doc)


async def test_documents_have_the_seed_shape(store: SessionStore) -> None:
    session, created = await store.insert_active(begin("CP1", 500, T0))
    assert created
    doc = await raw(store, session.session_id)
    assert isinstance(doc["_id"], ObjectId)
    assert doc["sessionId"] == session.session_id
    assert doc["status"] == "Charging"
    assert doc["startTime"] == T0
    assert doc["energyConsumed"] == 0.0
    assert "endTime" not in doc  # only on completed sessions
    assert doc["chargerId"] == "CP1"
    assert session.id == str(doc["_id"])

    later = T0 + timedelta(minutes=30)
    stopped = await store.finish(finish(session, MeterReading(15_700, 0), later, "Done"))
    assert stopped is not None
    doc = await raw(store, session.session_id)
    assert doc["status"] == "Stopped"
    assert doc["endTime"] == later
    assert doc["energyConsumed"] == 15.2
    assert doc["stopReason"] == "Done"


async def test_one_active_session_per_charger_under_concurrent_starts(store: SessionStore) -> None:
    attempts = [begin("CP1", 0, T0) for _ in range(25)] + [begin("CP2", 0, T0) for _ in range(25)]
    results = await asyncio.gather(*(store.insert_active(s) for s in attempts))
    created = [s for s, new in results if new]
    assert sorted(s.charger_id for s in created) == ["CP1", "CP2"]
    winners = {s.charger_id: s.session_id for s in created}
    assert all(s.session_id == winners[s.charger_id] for s, _ in results)
    assert await store._sessions.count_documents({"status": "Charging"}) == 2


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
    doc = await raw(store, session.session_id)
    assert doc["meterWh"] == 2000
    assert doc["energyConsumed"] == 2.0
    assert doc["powerKw"] == 11.0
    assert doc["updatedAt"] == T0 + timedelta(seconds=1)  # the late write's time, read back aware
    assert (await store.get(session.session_id)).meter_wh == 2000

    stopped = await store.finish(
        finish(ahead, MeterReading(2500, 0), T0 + timedelta(seconds=3), None)
    )
    assert stopped is not None
    late = observe(ahead, MeterReading(9000, 11), T0 + timedelta(seconds=4))
    await store.save_readings([late])
    doc = await raw(store, session.session_id)
    assert doc["status"] == "Stopped"
    assert doc["meterWh"] == 2500
    assert await store.finish(finish(late, MeterReading(9000, 0), T0, None)) is None


async def test_bulk_readings_for_many_sessions(store: SessionStore) -> None:
    sessions = [(await store.insert_active(begin(f"CP{k}", 0, T0)))[0] for k in range(50)]
    readings = [
        observe(s, MeterReading(k * 10, 3.5), T0 + timedelta(seconds=1))
        for k, s in enumerate(sessions)
    ]
    await store.save_readings(readings)
    for k, session in enumerate(sessions):
        doc = await raw(store, session.session_id)
        assert doc["meterWh"] == k * 10
        assert doc["powerKw"] == 3.5


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
    assert await store.ping()


class RecordingCollection:
    """Stands in for a PyMongo async collection and records what `save_readings` sends."""

    def __init__(self) -> None:
        self.bulk_calls: list[tuple[list[object], bool]] = []

    async def bulk_write(self, requests: list[object], *, ordered: bool) -> None:
        self.bulk_calls.append((requests, ordered))


async def test_a_tick_on_mongodb_is_one_unordered_bulk_write() -> None:
    from pymongo import UpdateOne

    collection = RecordingCollection()
    store = SessionStore({"sessions": collection}, in_process=False, close=lambda: None)
    sessions = [begin(f"CP{k}", 0, T0) for k in range(3)]
    readings = [
        observe(s, MeterReading(100 * (k + 1), 7.0), T0 + timedelta(seconds=1))
        for k, s in enumerate(sessions)
    ]
    await store.save_readings(readings)
    ((requests, ordered),) = collection.bulk_calls
    assert ordered is False
    expected = [
        UpdateOne(
            {"sessionId": r.session_id, "status": "Charging"},
            {
                "$max": {"meterWh": r.meter_wh, "energyConsumed": r.energy_consumed},
                "$set": {"powerKw": 7.0, "updatedAt": T0 + timedelta(seconds=1)},
            },
        )
        for r in readings
    ]
    assert requests == expected
    await store.save_readings([])
    assert len(collection.bulk_calls) == 1  # an idle tick writes nothing


@pytest.mark.parametrize(
    ("uri", "database"),
    [
        ("mongodb://db1:27017,db2:27017,db3:27017/fleet?replicaSet=rs0", "fleet"),
        ("mongodb://evcsm:secret@mongo:27017/?authSource=admin", "evcsm"),
        ("mongodb://localhost:27017/evcsm", "evcsm"),
    ],
)
async def test_mongodb_uris_open_without_a_server(uri: str, database: str) -> None:
    """Opening is lazy: a replica-set URI names its database, and nothing connects yet."""
    opened = open_store(uri, timeout_ms=100)
    try:
        assert opened._db.name == database
        assert opened._sessions.name == "sessions"
        assert not opened._in_process
    finally:
        await opened.close()
