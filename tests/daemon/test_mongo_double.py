"""The benchmark's driver double (tests/support/mongo_double.py) answers as a MongoDB server with
the same indexes would: the same documents, in the same order, with the same errors, from an index
wherever one serves. The store conformance suite runs on it too (`mongodb-double`)."""

import contextlib
import random
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from bson import ObjectId
from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, WriteError

from tests.support.clock import T0
from tests.support.mongo_double import Collection, Database
from tests.support.mongo_query import Part, matches, part
from tests.support.mongo_server import Documents

STATUSES = ("Charging", "Stopped", "Faulted")


def doc(charger: str, status: str, minute: int, **more: Any) -> dict[str, Any]:
    return {
        "_id": ObjectId(),
        "chargerId": charger,
        "status": status,
        "startTime": T0 + timedelta(minutes=minute),
        **more,
    }


async def sessions(*docs: dict[str, Any]) -> Collection:
    """A `sessions` collection with indexes like the store's, holding `docs`."""
    collection = Database()["sessions"]
    await collection.create_index(
        [("chargerId", 1)],
        name="one_active",
        unique=True,
        partialFilterExpression={"status": "Charging"},
    )
    await collection.create_index([("status", 1), ("startTime", -1), ("_id", -1)], name="status")
    await collection.create_index([("startTime", -1), ("_id", -1)], name="history")
    for one in docs:
        await collection.insert_one(one)
    return collection


def field_of(name: str, one: dict[str, Any]) -> Part:
    return part(one.get(name))


def consistent(documents: Documents) -> None:
    """Every index holds exactly the entries of the documents it covers, in order."""
    for index in documents.indexes.values():
        expected = sorted(e for d in documents.docs.values() if (e := index.entry(d)))
        assert index.entries == expected, index.name


async def test_a_status_page_reads_only_its_documents_at_any_offset() -> None:
    collection = await sessions(*(doc(f"CP{k}", STATUSES[k % 2], k // 3) for k in range(600)))
    stats = collection.server.stats
    newest_first = sorted(
        (d for d in collection.documents.docs.values() if d["status"] == "Stopped"),
        key=lambda d: (d["startTime"], d["_id"]),
        reverse=True,
    )
    for offset in (0, 50, 250, 299, 300):
        fetched = stats.fetched
        page = await (
            collection.find({"status": "Stopped"})
            .sort([("startTime", -1), ("_id", -1)])
            .skip(offset)
            .limit(50)
            .to_list()
        )
        assert page == newest_first[offset : offset + 50]
        assert stats.fetched - fetched == len(page)
    assert await collection.count_documents({"status": "Stopped"}) == 300
    assert stats.sorted == 0
    assert stats.scans == 0


async def test_a_status_and_time_range_counts_from_the_index() -> None:
    collection = await sessions(*(doc(f"CP{k}", STATUSES[k % 3], k // 4) for k in range(400)))
    window = {"$gte": T0 + timedelta(minutes=10), "$lt": T0 + timedelta(minutes=20)}
    fetched = collection.server.stats.fetched
    assert await collection.count_documents({"status": "Faulted", "startTime": window}) == 13
    assert await collection.count_documents({"startTime": window}) == 40
    assert collection.server.stats.fetched == fetched
    page = (
        await collection.find({"status": "Faulted", "startTime": window})
        .sort([("startTime", 1), ("_id", 1)])
        .to_list()
    )
    assert [d["startTime"] for d in page] == sorted(d["startTime"] for d in page)
    assert len(page) == 13


async def test_a_sort_no_index_serves_is_done_in_memory() -> None:
    collection = await sessions(*(doc(f"CP{k}", "Stopped", k % 5) for k in range(20)))
    page = await collection.find({}).sort([("chargerId", 1), ("_id", -1)]).limit(3).to_list()
    assert [d["chargerId"] for d in page] == ["CP0", "CP1", "CP10"]
    assert collection.server.stats.sorted == 20
    assert await collection.find({"startTime": {"$gte": T0}}).sort([("startTime", 1)]).to_list()
    assert collection.server.stats.sorted == 20  # the history index, walked backwards


async def test_a_stop_moves_a_session_between_index_entries() -> None:
    charging = doc("CP1", "Charging", 0, sessionId="s1", meterWh=5)
    collection = await sessions(charging, doc("CP2", "Charging", 1))
    with pytest.raises(DuplicateKeyError, match="one_active"):
        await collection.insert_one(doc("CP1", "Charging", 2))
    await collection.bulk_write(
        [UpdateOne({"_id": charging["_id"]}, {"$max": {"meterWh": 3}, "$set": {"powerKw": 1}})],
        ordered=False,
    )
    stopped = await collection.find_one_and_update(
        {"_id": charging["_id"], "status": "Charging"},
        {"$set": {"status": "Stopped"}, "$max": {"meterWh": 9}},
        return_document=ReturnDocument.AFTER,
    )
    assert stopped == {**charging, "status": "Stopped", "meterWh": 9, "powerKw": 1}
    assert await collection.count_documents({"status": "Charging"}) == 1
    assert await collection.count_documents({"status": "Stopped"}) == 1
    await collection.insert_one(doc("CP1", "Charging", 3))  # the charger is free again
    consistent(collection.documents)


async def test_a_document_inserted_again_is_refused() -> None:
    first = doc("CP1", "Stopped", 0, sessionId="s1")
    collection = await sessions(first)
    await collection.create_index([("sessionId", 1)], name="session_id", unique=True)
    with pytest.raises(DuplicateKeyError, match="_id_"):
        await collection.insert_one(dict(first))
    with pytest.raises(DuplicateKeyError, match="session_id"):
        await collection.insert_one({**first, "_id": ObjectId()})
    assert await collection.find({}).to_list() == [first]
    consistent(collection.documents)


async def test_a_refused_update_changes_nothing() -> None:
    first, second = doc("CP1", "Charging", 0), doc("CP1", "Stopped", 1)
    collection = await sessions(first, second)
    with pytest.raises(DuplicateKeyError, match="one_active"):
        await collection.find_one_and_update(
            {"_id": second["_id"]}, {"$set": {"status": "Charging"}}
        )
    with pytest.raises(WriteError, match="immutable"):
        await collection.find_one_and_update({"_id": second["_id"]}, {"$set": {"_id": 1}})
    with pytest.raises(WriteError, match="conflict"):
        await collection.find_one_and_update(
            {"_id": second["_id"]}, {"$set": {"meterWh": 1}, "$max": {"meterWh": 2}}
        )
    assert await collection.find_one({"_id": second["_id"]}) == second
    consistent(collection.documents)


async def test_bulk_writes_report_what_they_refused() -> None:
    free, taken = doc("CP1", "Stopped", 0), doc("CP2", "Charging", 1)
    collection = await sessions(free, taken, doc("CP3", "Stopped", 2))
    requests = [
        UpdateOne({"_id": free["_id"]}, {"$set": {"chargerId": "CP2", "status": "Charging"}}),
        UpdateOne({"chargerId": "CP3"}, {"$set": {"status": "Charging"}}),
    ]
    with pytest.raises(BulkWriteError) as unordered:
        await collection.bulk_write(requests, ordered=False)
    assert [e["index"] for e in unordered.value.details["writeErrors"]] == [0]
    assert await collection.count_documents({"status": "Charging"}) == 2  # the second applied
    with pytest.raises(BulkWriteError):
        await collection.bulk_write(
            [requests[0], UpdateOne({"chargerId": "CP1"}, {"$set": {"meterWh": 1}})], ordered=True
        )
    assert "meterWh" not in (await collection.find_one({"_id": free["_id"]}) or {})
    consistent(collection.documents)


async def test_a_counter_is_upserted_and_incremented() -> None:
    counters = Database()["counters"]
    for value in (1, 2, 3):
        after = await counters.find_one_and_update(
            {"_id": "tx"}, {"$inc": {"value": 1}}, upsert=True, return_document=True
        )
        assert after == {"_id": "tx", "value": value}
    assert await counters.find_one_and_update({"_id": "tx"}, {"$inc": {"value": 1}}) == after
    assert await counters.find_one_and_update({"_id": "other"}, {"$inc": {"value": 1}}) is None


async def test_max_compares_in_bson_order() -> None:
    collection = await sessions(first := doc("CP1", "Stopped", 0, meterWh=10))
    for value, stored in ((5, 10), (10.5, 10.5), ("text", "text"), (7, "text")):
        await collection.find_one_and_update({"_id": first["_id"]}, {"$max": {"meterWh": value}})
        assert (await collection.find_one({"_id": first["_id"]}) or {})["meterWh"] == stored


async def test_indexes_are_built_over_existing_documents_and_clash_as_on_a_server() -> None:
    collection = Database()["sessions"]
    for k in range(3):
        await collection.insert_one(doc("CP1", "Stopped", k, sessionId="same" if k else "other"))
    with pytest.raises(DuplicateKeyError):
        await collection.create_index([("sessionId", 1)], name="session_id", unique=True)
    assert "session_id" not in await collection.index_information()
    assert await collection.create_index([("startTime", -1)], name="history") == "history"
    assert await collection.create_index([("startTime", -1)], name="history") == "history"
    consistent(collection.documents)
    with pytest.raises(OperationFailure) as same_name:
        await collection.create_index([("startTime", -1), ("_id", -1)], name="history")
    assert same_name.value.code == 86
    with pytest.raises(OperationFailure) as same_keys:
        await collection.create_index([("startTime", -1)], name="again")
    assert same_keys.value.code == 85
    assert await collection.create_index([("chargerId", 1), ("startTime", 1)]) == (
        "chargerId_1_startTime_1"
    )
    assert await collection.count_documents({}, hint="history") == 3
    assert collection.server.stats.scans == 0
    await collection.create_index([("tx", 1)], name="tx", partialFilterExpression={"tx": 1})
    assert await collection.count_documents({"tx": 1}, hint="tx") == 0
    for hint in ("nothing", "tx"):  # no such index; one that leaves out what {} matches
        with pytest.raises(OperationFailure, match="hint"):
            await collection.count_documents({}, hint=hint)
    await collection.drop_index("history")
    with pytest.raises(OperationFailure) as missing:
        await collection.drop_index("history")
    assert missing.value.code == 27


@pytest.mark.parametrize("seed", range(6))
async def test_every_query_matches_a_plain_scan(seed: int) -> None:
    """Random documents, writes and queries (filters, sorts, skips, limits) against a scan of
    the documents sorted by hand; the indexes checked against the documents after every write."""
    rng = random.Random(seed)  # noqa: S311 - a seeded sequence, nothing secret
    collection = await sessions()
    await collection.create_index([("chargerId", 1), ("startTime", -1), ("_id", -1)], name="ch")
    await collection.create_index(
        [("tx", 1)], name="tx", unique=True, partialFilterExpression={"tx": {"$exists": True}}
    )
    documents = collection.documents
    for step in range(150):
        one = doc(f"CP{rng.randrange(6)}", rng.choice(STATUSES[1:]), rng.randrange(12))
        if rng.random() < 0.3:
            one["tx"] = rng.randrange(40)
        if rng.random() < 0.2:
            one["status"] = "Charging"
        if documents.docs and rng.random() < 0.1:
            one = dict(rng.choice(list(documents.docs.values())))  # the same document again
        with contextlib.suppress(DuplicateKeyError):
            await collection.insert_one(one)
        if step % 3 == 0:
            target = rng.choice(list(documents.docs.values()))
            change: dict[str, Any] = rng.choice(
                [
                    {"$set": {"status": rng.choice(STATUSES)}},
                    {"$max": {"startTime": T0 + timedelta(minutes=rng.randrange(14))}},
                    {"$set": {"chargerId": f"CP{rng.randrange(6)}", "tx": rng.randrange(40)}},
                ]
            )
            with contextlib.suppress(DuplicateKeyError):
                await collection.find_one_and_update({"_id": target["_id"]}, change)
        consistent(documents)
        for _ in range(4):
            flt = random_filter(rng)
            sort = rng.choice(SORTS)
            skip, limit = rng.randrange(6), rng.choice((0, 1, 4, 100))
            expected = [d for d in documents.docs.values() if matches(d, flt)]
            for name, direction in reversed(sort):  # stable: the last key first
                expected.sort(key=partial(field_of, name), reverse=direction < 0)
            cursor = collection.find(flt).sort(sort).skip(skip).limit(limit)
            assert await cursor.to_list() == expected[skip:][: limit or None], (flt, sort)
            assert await collection.count_documents(flt) == len(expected), flt


SORTS = (
    [("startTime", -1), ("_id", -1)],
    [("startTime", 1), ("_id", 1)],
    [("status", 1), ("startTime", -1), ("_id", -1)],
    [("chargerId", 1), ("startTime", 1), ("_id", -1)],
    [("_id", 1)],
)


def random_filter(rng: random.Random) -> dict[str, Any]:
    """Some of the conditions the store and a server's planner meet, at random."""
    flt: dict[str, Any] = {}
    if rng.random() < 0.5:
        flt["status"] = rng.choice([*STATUSES, {"$ne": "Stopped"}, {"$in": list(STATUSES[:2])}])
    if rng.random() < 0.4:
        flt["chargerId"] = f"CP{rng.randrange(7)}"
    if rng.random() < 0.5:
        ops = rng.sample(["$gt", "$gte", "$lt", "$lte"], rng.randrange(1, 3))
        flt["startTime"] = {op: T0 + timedelta(minutes=rng.randrange(14)) for op in ops}
    if rng.random() < 0.2:
        flt["tx"] = rng.choice([rng.randrange(40), {"$exists": rng.random() < 0.5}, None])
    return flt
