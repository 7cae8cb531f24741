"""What only the MongoDB backend has: the seed's document shape, a flush in unordered bulk writes
with the event loop free between them, lazy URIs, and how PyMongo's errors map to the store's
(raised by a driver double at chosen calls)."""

import asyncio
import itertools
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from bson import ObjectId
from evcsm_daemon.core.sessions import MeterReading, begin, finish, observe
from evcsm_daemon.errors import StoreUnavailable, WriteNotConfirmed
from evcsm_daemon.store import mongo, open_store
from evcsm_daemon.store.documents import DOCUMENT_FIELDS
from evcsm_daemon.store.mongo import MongoStore
from evcsm_schema import SessionQuery, SessionStatus
from pymongo import UpdateOne
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    NetworkTimeout,
    NotPrimaryError,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
    WriteConcernError,
)

from tests.support.clock import T0
from tests.support.mongo import DriverFaults, mongo_store, mongomock_database
from tests.support.mongo_double import Database


@pytest.fixture
async def faults() -> DriverFaults:
    return DriverFaults()


@pytest.fixture
async def database() -> object:
    return mongomock_database()


@pytest.fixture
async def store(database: object, faults: DriverFaults) -> MongoStore:
    opened = mongo_store(database, faults)
    await opened.ensure_indexes()
    return opened


async def raw(database: object, session_id: str) -> dict[str, object]:
    doc = await database["sessions"].find_one({"sessionId": session_id})  # type: ignore[index]
    assert doc is not None
    return dict(doc)


async def test_documents_have_the_seed_shape(store: MongoStore, database: object) -> None:
    session, created = await store.insert_active(begin("CP1", 500, T0))
    assert created
    doc = await raw(database, session.session_id)
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
    doc = await raw(database, session.session_id)
    assert doc["status"] == "Stopped"
    assert doc["endTime"] == later
    assert doc["energyConsumed"] == 15.2
    assert doc["stopReason"] == "Done"


SEED_DOCUMENT_FIELDS = {
    "_id",
    "sessionId",
    "chargerId",
    "status",
    "startTime",
    "endTime",
    "energyConsumed",
    "meterStartWh",
    "meterWh",
    "powerKw",
    "stopReason",
    "updatedAt",
    "transactionId",
    "chargePointId",
    "connectorId",
    "idTag",
}


async def test_the_document_fields_are_fixed_apart_from_the_public_model(
    store: MongoStore, database: object
) -> None:
    assert DOCUMENT_FIELDS == SEED_DOCUMENT_FIELDS
    ocpp = begin("CP-7-1", 500, T0).model_copy(
        update={"transaction_id": 7, "charge_point_id": "CP-7", "connector_id": 1, "id_tag": "T"}
    )
    session, _ = await store.insert_active(ocpp)
    stopped = await store.finish(finish(session, MeterReading(900, 0), T0, "Done"))
    assert stopped is not None
    assert set(await raw(database, session.session_id)) == SEED_DOCUMENT_FIELDS
    assert (stopped.transaction_id, stopped.charge_point_id, stopped.id_tag) == (7, "CP-7", "T")
    assert await store.get(session.session_id) == stopped


async def test_a_document_field_this_version_does_not_know_is_ignored(
    store: MongoStore, database: object
) -> None:
    session, _ = await store.insert_active(begin("CP1", 500, T0))
    await database["sessions"].update_one(  # type: ignore[index]
        {"sessionId": session.session_id}, {"$set": {"_t": "ChargingSession"}}
    )
    assert await store.get(session.session_id) == session


async def test_readings_are_stored_with_max_and_set(store: MongoStore, database: object) -> None:
    session, _ = await store.insert_active(begin("CP1", 0, T0))
    await store.save_readings([observe(session, MeterReading(2000, 11), T0 + timedelta(seconds=2))])
    await store.save_readings([observe(session, MeterReading(1000, 11), T0 + timedelta(seconds=1))])
    doc = await raw(database, session.session_id)
    assert doc["meterWh"] == 2000
    assert doc["energyConsumed"] == 2.0
    assert doc["powerKw"] == 11.0
    assert doc["updatedAt"] == T0 + timedelta(seconds=2)  # $max: a late write never lowers it


class RecordingCollection:
    """Stands in for a PyMongo async collection and records what `save_readings` sends."""

    def __init__(self) -> None:
        self.bulk_calls: list[tuple[list[object], bool]] = []

    async def bulk_write(self, requests: list[object], *, ordered: bool) -> None:
        self.bulk_calls.append((requests, ordered))


async def test_a_tick_on_mongodb_is_one_unordered_bulk_write() -> None:
    collection = RecordingCollection()
    store = MongoStore({"sessions": collection}, close=lambda: None)
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
                "$max": {
                    "meterWh": r.meter_wh,
                    "energyConsumed": r.energy_consumed,
                    "updatedAt": T0 + timedelta(seconds=1),
                },
                "$set": {"powerKw": 7.0},
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
        assert isinstance(opened, MongoStore)
        assert opened._db.name == database
        assert opened._sessions.name == "sessions"
        assert opened.kind == "MongoDB"  # not the in-process store
    finally:
        await opened.close()


WRITE_ERRORS: list[tuple[PyMongoError, type[Exception]]] = [
    (ServerSelectionTimeoutError("no server"), StoreUnavailable),
    (NotPrimaryError("not primary"), StoreUnavailable),
    (OperationFailure("not authorized", code=13), StoreUnavailable),
    (NetworkTimeout("timed out"), WriteNotConfirmed),
    (AutoReconnect("connection reset"), WriteNotConfirmed),
    (WriteConcernError("waiting for replication timed out", code=64), WriteNotConfirmed),
    (BulkWriteError({"writeErrors": [], "writeConcernErrors": [{}]}), WriteNotConfirmed),
    (PyMongoError("something else"), WriteNotConfirmed),
]


@pytest.mark.parametrize(("error", "mapped"), WRITE_ERRORS)
@pytest.mark.parametrize("applied", [True, False])
async def test_driver_errors_on_writes(
    store: MongoStore, faults: DriverFaults, error: PyMongoError, mapped: type, applied: bool
) -> None:
    """Only an error that proves nothing was sent says so; any other leaves the outcome open."""
    session = begin("CP1", 0, T0)
    faults.fail("insert_one", error, applied=applied)
    with pytest.raises(mapped) as raised:
        await store.insert_active(session)
    assert raised.value.__cause__ is error
    assert (await store.query(SessionQuery())).total == int(applied)
    again, created = await store.insert_active(session)  # the repeat tells what happened
    assert created
    assert again.session_id == session.session_id
    assert (await store.query(SessionQuery())).total == 1

    faults.fail("find_one_and_update", error, applied=applied)
    with pytest.raises(mapped):
        await store.finish(finish(again, MeterReading(10, 0), T0, None))
    faults.fail("bulk_write", error, applied=False)
    with pytest.raises(mapped):
        await store.save_readings([observe(again, MeterReading(5, 1), T0)])


@pytest.mark.parametrize("error", [error for error, _ in WRITE_ERRORS])
async def test_driver_errors_on_reads_are_unavailable(
    store: MongoStore, faults: DriverFaults, error: PyMongoError
) -> None:
    faults.fail("find_one", error, applied=False)
    with pytest.raises(StoreUnavailable):
        await store.get("any")
    faults.fail("count_documents", error, applied=False)
    with pytest.raises(StoreUnavailable):
        await store.query(SessionQuery())
    faults.fail("command", error, applied=False)
    assert await store.ping() is False
    assert await store.ping() is True
    faults.fail("create_index", error, applied=False)
    with pytest.raises(StoreUnavailable):
        await store.ensure_indexes()


async def test_every_history_page_and_total_come_from_an_index() -> None:
    """On a server with the store's indexes, a page of every filter reads only its own documents
    (whatever the offset) and sorts nothing in memory, and every total is counted from an index
    alone. Without `_id` in the history indexes, each page read and sorted every matching
    document; without a hint, the total of every session was a collection scan."""
    database = Database()
    store = MongoStore(database, close=lambda: None)
    await store.ensure_indexes()
    for k in range(240):
        start = T0 + timedelta(minutes=k // 4)  # four sessions share each start time
        session, _ = await store.insert_active(begin(f"CP{k % 8}", 0, start))
        if k < 232:
            await store.finish(finish(session, MeterReading(k, 0), start, None))
    stats = database.server.stats
    window = (None, T0 + timedelta(minutes=10), T0 + timedelta(minutes=40))
    for charger, status, since, until, offset in itertools.product(
        (None, "CP3"), (None, *SessionStatus), window, window, (0, 7, 150)
    ):
        query = SessionQuery(
            charger_id=charger, status=status, since=since, until=until, offset=offset, limit=5
        )
        before = replace(stats)
        page = await store.query(query)
        read = stats.since(before)
        assert (read.sorted, read.scans) == (0, 0), query
        # The page's documents, and the one a unique index may point at:
        assert read.fetched <= len(page.items) + 2, query
    assert await store.latest("CP3") is not None
    await store.all_active()
    assert stats.sorted == 0


@pytest.mark.parametrize("backend", ["mongomock", "double"])
async def test_the_indexes_of_an_earlier_version_are_replaced(backend: str) -> None:
    """A database whose history indexes lack `_id` gets the new ones; the old ones are dropped
    (an index cannot change keys under its name); the sessions stay as they were."""
    database: Any = mongomock_database() if backend == "mongomock" else Database()
    sessions = database["sessions"]
    await sessions.create_index([("chargerId", 1), ("startTime", -1)], name="charger_history")
    await sessions.create_index([("startTime", -1)], name="history")
    await sessions.create_index([("status", 1), ("startTime", -1)], name="status_history")
    store = MongoStore(database, close=lambda: None)
    if backend == "mongomock":
        store = mongo_store(database)
    session, _ = await store.insert_active(begin("CP1", 0, T0))
    for _ in range(2):
        await store.ensure_indexes()
        present = await sessions.index_information()
        assert not set(present) & mongo.SUPERSEDED_INDEXES
        for name, keys in mongo.HISTORY_INDEXES.items():
            assert present[name]["key"] == keys
    assert (await store.query(SessionQuery(charger_id="CP1"))).items == [session]


async def test_an_index_dropped_meanwhile_by_another_daemon_is_no_error(
    database: object, faults: DriverFaults
) -> None:
    store = mongo_store(database, faults)
    await database["sessions"].create_index([("startTime", -1)], name="history")  # type: ignore[index]
    faults.fail("drop_index", OperationFailure("index not found", code=27), applied=True)
    await store.ensure_indexes()
    await database["sessions"].create_index([("startTime", -1)], name="history")  # type: ignore[index]
    faults.fail("drop_index", OperationFailure("not authorized", code=13), applied=False)
    with pytest.raises(StoreUnavailable, match="not authorized"):
        await store.ensure_indexes()


async def test_a_flush_is_written_in_batches(
    database: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tick's readings go in bulk writes of at most `flush_batch` requests (the event loop runs
    between them), and every reading is stored."""
    store = mongo_store(database, flush_batch=3)
    await store.ensure_indexes()
    sessions = [(await store.insert_active(begin(f"CP{k}", 0, T0)))[0] for k in range(7)]
    batches: list[int] = []
    bulk_write = store._sessions.bulk_write

    async def counted(requests: list[UpdateOne], *, ordered: bool) -> None:
        batches.append(len(requests))
        await bulk_write(requests, ordered=ordered)

    monkeypatch.setattr(store._sessions, "bulk_write", counted)
    later = T0 + timedelta(minutes=10)
    await store.save_readings(
        [observe(s, MeterReading(1000 + k, 0.5), later) for k, s in enumerate(sessions)]
    )
    assert batches == [3, 3, 1]
    for k, session in enumerate(sessions):
        assert (await raw(database, session.session_id))["meterWh"] == 1000 + k


async def test_a_stop_made_during_a_flush_runs_between_two_batches_and_stays_stopped(
    database: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a batch's reply is on its way the event loop is free: a stop made then is stored
    before the next batch, and the later batch's reading of that session, higher and later
    than its final one, leaves it stopped with its final figures."""
    store = mongo_store(database, flush_batch=2)
    await store.ensure_indexes()
    sessions = [(await store.insert_active(begin(f"CP{k}", 0, T0)))[0] for k in range(6)]
    later = T0 + timedelta(minutes=5)
    readings = [observe(s, MeterReading(1000, 7.0), later) for s in sessions]
    order: list[str] = []
    replying, reply = asyncio.Event(), asyncio.Event()
    bulk_write = store._sessions.bulk_write

    async def replied_late(requests: list[UpdateOne], *, ordered: bool) -> None:
        await bulk_write(requests, ordered=ordered)
        order.append("batch")
        if len(order) == 1:  # the first batch's reply is held back
            replying.set()
            await reply.wait()

    monkeypatch.setattr(store._sessions, "bulk_write", replied_late)
    flush = asyncio.create_task(store.save_readings(readings))
    await replying.wait()
    last = sessions[-1]
    stopped = await store.finish(finish(last, MeterReading(800, 0), later, None))
    order.append("stop")
    reply.set()
    await flush
    assert order == ["batch", "stop", "batch", "batch"]
    assert stopped is not None
    assert await store.get(last.session_id) == stopped
    assert (stopped.status.value, stopped.meter_wh, stopped.power_kw) == ("Stopped", 800, 0.0)
    for session in sessions[:-1]:
        assert (await raw(database, session.session_id))["meterWh"] == 1000
