"""Sessions in MongoDB through PyMongo's async API: the production store.

One active session per charger is enforced by MongoDB itself: a unique index on `chargerId`
restricted to documents with `status: "Charging"`. Two concurrent starts (from MQTT and REST,
or from two daemons) race on the insert; the loser gets a duplicate-key error and returns the
winner's session instead. `transactionId` is unique among the documents that have one, and a
document of the `counters` collection hands out new ones with an atomic `$inc`. `sessionId` has a
unique index too, which makes a repeated insert of
the same session a no-op that reads back what the first stored. Stops and readings filter on
`status: "Charging"`, and the register only moves forward (`$max`).

Driver errors are mapped in one place, `driver_errors`: a write that may have reached the
server without an answer is `WriteNotConfirmed`, anything that certainly changed nothing is
`StoreUnavailable`.
"""

import contextlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from evcsm_schema import ChargingSession, SessionPage, SessionQuery, SessionStatus
from evcsm_schema.session import MAX_TRANSACTION_ID
from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    DuplicateKeyError,
    ExecutionTimeout,
    NotPrimaryError,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
    WaitQueueTimeoutError,
    WriteConcernError,
)

from evcsm_daemon.errors import (
    SessionNotFound,
    StoreError,
    StoreUnavailable,
    WriteNotConfirmed,
)
from evcsm_daemon.store.documents import from_document, to_document

COLLECTION = "sessions"
COUNTERS = "counters"
TRANSACTION_COUNTER = "transactionId"
CHARGING = SessionStatus.CHARGING.value
INSERT_ATTEMPTS = 5
"""Inserts that lose to a session stopped before it could be read, before giving up."""
FLUSH_BATCH = 250
"""Readings per bulk write. PyMongo builds and encodes a bulk write on the event loop, ~5 µs a
request (measured with its own bulk classes): 250 hold the loop ~1.3 ms, where 1,000 held it
~5 ms, and with 1,000 sessions charging a command that came during a flush waited for the whole
of it (`bench.flush` shows the waits on the driver double)."""

_NEWEST_FIRST = [("startTime", DESCENDING), ("_id", DESCENDING)]
HISTORY_INDEXES = {
    "history_newest_first": _NEWEST_FIRST,
    "charger_history_newest_first": [("chargerId", ASCENDING), *_NEWEST_FIRST],
    "status_history_newest_first": [("status", ASCENDING), *_NEWEST_FIRST],
    "charger_status_history_newest_first": [
        ("chargerId", ASCENDING),
        ("status", ASCENDING),
        *_NEWEST_FIRST,
    ],
}
"""The indexes a history query is answered from: every filter `query` makes (the charger, the
status, both, or neither, then a range of `startTime`) and its sort, `_id` included. MongoDB
serves a sort from an index only if the index holds every sort key; without `_id` a server
reads and sorts in memory every matching document for each page."""
SUPERSEDED_INDEXES = frozenset({"history", "charger_history", "status_history"})
"""Earlier history indexes, without `_id`: dropped by `ensure_indexes` (an index's keys cannot
change under its name)."""
INDEX_NOT_FOUND = 27
ID_INDEX = "_id_"

_NOT_SENT = (ServerSelectionTimeoutError, WaitQueueTimeoutError, NotPrimaryError)
"""No server took the operation: it was never applied. (When the retry of a retryable write finds
no server, PyMongo raises the first attempt's error instead, for this very reason.)"""
_UNANSWERED = (ConnectionFailure, WriteConcernError, BulkWriteError, ExecutionTimeout)
"""The operation may have been applied: the connection failed or the answer was incomplete."""


@contextlib.contextmanager
def driver_errors(*, write: bool) -> Iterator[None]:
    """Turn PyMongo's exceptions into the store's: the one place that knows them.

    A write whose fate is unknown (a network error or timeout after it may have been sent, a
    write concern not met, a partial bulk write) is `WriteNotConfirmed`; one that certainly
    changed nothing (no server selected, the server refused it) and every failed read are
    `StoreUnavailable`.
    """
    try:
        yield
    except PyMongoError as exc:
        raise _mapped(exc, write=write) from exc


def _mapped(exc: PyMongoError, *, write: bool) -> StoreError:
    if isinstance(exc, _NOT_SENT):
        return StoreUnavailable(f"database unavailable: {exc}")
    if isinstance(exc, OperationFailure) and not isinstance(exc, _UNANSWERED):
        return StoreUnavailable(f"database refused the call: {exc}")
    if write:
        return WriteNotConfirmed(f"database did not confirm the write: {exc}")
    return StoreUnavailable(f"database unavailable: {exc}")


class MongoStore:
    """Charging sessions in one MongoDB database (the `sessions` collection)."""

    kind = "MongoDB"
    durable = True

    def __init__(
        self,
        database: Any,  # noqa: ANN401 - a PyMongo AsyncDatabase, or a test double of one
        *,
        close: Callable[[], Awaitable[None] | None],
        flush_batch: int = FLUSH_BATCH,
    ) -> None:
        self._db = database
        self._flush_batch = flush_batch
        self._sessions = database[COLLECTION]
        self._close = close

    async def close(self) -> None:
        """Close the client."""
        result = self._close()
        if result is not None:
            await result

    async def ping(self) -> bool:
        """True when the database answers."""
        try:
            with driver_errors(write=False):
                await self._db.command("ping")
        except StoreUnavailable:
            return False
        return True

    async def ensure_indexes(self) -> None:
        """Create the indexes the guarantees and the history rely on, and drop the superseded
        history indexes (idempotent)."""
        with driver_errors(write=False):
            await self._sessions.create_index(
                [("chargerId", ASCENDING)],
                name="one_active_session_per_charger",
                unique=True,
                partialFilterExpression={"status": CHARGING},
            )
            await self._sessions.create_index(
                [("sessionId", ASCENDING)], name="session_id", unique=True
            )
            for name, keys in HISTORY_INDEXES.items():
                await self._sessions.create_index(keys, name=name)
            await self._sessions.create_index(
                [("transactionId", ASCENDING)],
                name="transaction_id",
                unique=True,
                partialFilterExpression={"transactionId": {"$exists": True}},
            )
            present = await self._sessions.index_information()
            for name in SUPERSEDED_INDEXES.intersection(present):
                try:
                    await self._sessions.drop_index(name)
                except OperationFailure as exc:
                    if exc.code != INDEX_NOT_FOUND:
                        raise
                    # Another daemon dropped it between the listing and the drop.

    async def insert_active(self, session: ChargingSession) -> tuple[ChargingSession, bool]:
        """Store a new active session, or return the charger's existing one."""
        doc = to_document(session)
        for _ in range(INSERT_ATTEMPTS):
            with driver_errors(write=True):
                try:
                    await self._sessions.insert_one(doc)
                except DuplicateKeyError:
                    pass
                else:
                    return from_document(doc), True
            with driver_errors(write=False):
                mine = await self._sessions.find_one({"sessionId": session.session_id})
                if mine is not None:  # an earlier attempt of this very insert was applied
                    return from_document(mine), True
                existing = await self._sessions.find_one(
                    {"chargerId": session.charger_id, "status": CHARGING}
                )
                taken = session.transaction_id is not None and await self._sessions.find_one(
                    {"transactionId": session.transaction_id}
                )
            if existing is not None:
                return from_document(existing), False
            if taken:
                raise StoreUnavailable(
                    f"transaction id {session.transaction_id} is taken; nothing was changed"
                )
            # The charger's session stopped between our insert and these reads: insert again.
        raise StoreUnavailable(f"charger {session.charger_id!r} is busy; nothing was changed")

    async def active(self, charger_id: str) -> ChargingSession | None:
        """The charger's active session, if any."""
        with driver_errors(write=False):
            doc = await self._sessions.find_one({"chargerId": charger_id, "status": CHARGING})
        return from_document(doc) if doc else None

    async def all_active(self) -> list[ChargingSession]:
        """Every active session."""
        with driver_errors(write=False):
            docs = await self._sessions.find({"status": CHARGING}).to_list(length=None)
        return [from_document(doc) for doc in docs]

    async def ocpp_chargers(self) -> list[str]:
        """Chargers that have a session with a charge point id."""
        with driver_errors(write=False):
            found = await self._sessions.distinct("chargerId", {"chargePointId": {"$ne": None}})
        return sorted(str(charger_id) for charger_id in found)

    async def latest(self, charger_id: str) -> ChargingSession | None:
        """The charger's most recent session, active or not."""
        cursor = (
            self._sessions.find({"chargerId": charger_id})
            .sort([("startTime", DESCENDING), ("_id", DESCENDING)])
            .limit(1)
        )
        with driver_errors(write=False):
            docs = await cursor.to_list(length=1)
        return from_document(docs[0]) if docs else None

    async def by_transaction(self, transaction_id: int) -> ChargingSession | None:
        """The session with this transaction id, if any."""
        with driver_errors(write=False):
            doc = await self._sessions.find_one({"transactionId": transaction_id})
        return from_document(doc) if doc else None

    async def next_transaction_id(self) -> int:
        """The counter document, raised by one with `$inc` (created at 1 if missing)."""
        with driver_errors(write=True):
            doc = await self._db[COUNTERS].find_one_and_update(
                {"_id": TRANSACTION_COUNTER},
                {"$inc": {"value": 1}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        value = int(doc["value"])
        if value > MAX_TRANSACTION_ID:
            raise StoreUnavailable("transaction ids are exhausted")
        return value

    async def get(self, session_id: str) -> ChargingSession:
        """One session by its `sessionId`."""
        with driver_errors(write=False):
            doc = await self._sessions.find_one({"sessionId": session_id})
        if doc is None:
            raise SessionNotFound(f"no session with id {session_id!r}")
        return from_document(doc)

    async def query(self, query: SessionQuery) -> SessionPage:
        """A page of sessions matching the filters, newest first."""
        flt: dict[str, Any] = {}
        if query.charger_id is not None:
            flt["chargerId"] = query.charger_id
        if query.status is not None:
            flt["status"] = query.status.value
        started: dict[str, datetime] = {}
        if query.since is not None:
            started["$gte"] = query.since
        if query.until is not None:
            started["$lt"] = query.until
        if started:
            flt["startTime"] = started
        cursor = (
            self._sessions.find(flt)
            .sort([("startTime", DESCENDING), ("_id", DESCENDING)])
            .skip(query.offset)
            .limit(query.limit)
        )
        with driver_errors(write=False):
            docs = await cursor.to_list(length=None)
            # Every session counted from the _id index's keys: with an empty filter alone a
            # server reads every document (a collection scan).
            everything = {} if flt else {"hint": ID_INDEX}
            total = await self._sessions.count_documents(flt, **everything)
        return SessionPage(
            items=[from_document(doc) for doc in docs],
            total=total,
            limit=query.limit,
            offset=query.offset,
        )

    async def save_readings(self, sessions: Sequence[ChargingSession]) -> None:
        """Write one tick's readings of the active sessions: unordered bulk writes of at most
        `flush_batch` requests each.

        The driver builds and encodes a bulk write's requests on the event loop in one go: 10,000
        took 271 ms at the median and held the ticks and commands up for that long. In batches,
        the loop runs between them while each waits for the server's reply, so a command waits
        for one batch's encoding at most; the batches go one after another, a round trip each
        (40 for 10,000 readings). The documents written are the same. A stop stored between two
        batches stays as it is (every update is for a session still `Charging`), and a flush
        that fails part-way is written whole by the next one (every update raises the register
        with `$max`)."""
        size = self._flush_batch
        for start in range(0, len(sessions), size):
            requests = [
                UpdateOne(
                    {"sessionId": s.session_id, "status": CHARGING},
                    {
                        "$max": {
                            "meterWh": s.meter_wh,
                            "energyConsumed": s.energy_consumed,
                            "updatedAt": s.updated_at,
                        },
                        "$set": {"powerKw": s.power_kw},
                    },
                )
                for s in sessions[start : start + size]
            ]
            with driver_errors(write=True):
                await self._sessions.bulk_write(requests, ordered=False)

    async def finish(self, stopped: ChargingSession) -> ChargingSession | None:
        """Store a stop; None when the session was no longer active."""
        with driver_errors(write=True):
            doc = await self._sessions.find_one_and_update(
                {"sessionId": stopped.session_id, "status": CHARGING},
                {
                    "$set": {
                        "status": stopped.status.value,
                        "endTime": stopped.end_time,
                        "powerKw": 0.0,
                        "stopReason": stopped.stop_reason,
                    },
                    "$max": {
                        "meterWh": stopped.meter_wh,
                        "energyConsumed": stopped.energy_consumed,
                        "updatedAt": stopped.updated_at,
                    },
                },
                return_document=ReturnDocument.AFTER,
            )
        return from_document(doc) if doc else None
