"""The sessions collection: the one place that reads and writes charging sessions.

One active session per charger is enforced by MongoDB itself: a unique index on `chargerId`
restricted to documents with `status: "Charging"`. Two concurrent starts (from MQTT and REST,
or from two daemons) race on the insert; the loser gets a duplicate-key error and returns the
winner's session instead. Stops and meter ticks only touch documents still `Charging`, and the
register only moves forward (`$max`), so a late or repeated write can never undo a stop or
lower the energy.

PyMongo's async API and mongomock-motor differ in one place used here: mongomock's
`bulk_write` cannot take PyMongo 4.20's update requests, and each of its updates scans the whole
collection. So on the in-process store the readings go straight into the stored documents
(`store.memory`), with public `update_one` calls as the fallback.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from evcsm_schema import ChargingSession, SessionPage, SessionQuery, SessionStatus
from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.errors import DuplicateKeyError, PyMongoError

from evcsm_daemon.errors import SessionNotFound, StoreUnavailable
from evcsm_daemon.store.documents import from_document, to_document
from evcsm_daemon.store.memory import apply_readings, documents_of

COLLECTION = "sessions"
CHARGING = SessionStatus.CHARGING.value
T = TypeVar("T")


class SessionStore:
    """Charging sessions in one MongoDB database."""

    def __init__(
        self,
        database: Any,  # noqa: ANN401 - a PyMongo async or a mongomock-motor database
        *,
        in_process: bool,
        close: Callable[[], Any],
    ) -> None:
        self._db = database
        self._sessions = database[COLLECTION]
        self._in_process = in_process
        self._memory_documents = documents_of(self._sessions) if in_process else None
        self._close = close

    async def close(self) -> None:
        """Close the client."""
        result = self._close()
        if isinstance(result, Awaitable):
            await result

    async def ping(self) -> bool:
        """True when the database answers."""
        try:
            await self._db.command("ping")
        except PyMongoError:
            return False
        return True

    async def ensure_indexes(self) -> None:
        """Create the indexes the guarantees rely on (idempotent)."""
        try:
            await self._sessions.create_index(
                [("chargerId", ASCENDING)],
                name="one_active_session_per_charger",
                unique=True,
                partialFilterExpression={"status": CHARGING},
            )
            await self._sessions.create_index(
                [("sessionId", ASCENDING)], name="session_id", unique=True
            )
            await self._sessions.create_index(
                [("chargerId", ASCENDING), ("startTime", DESCENDING)], name="charger_history"
            )
            await self._sessions.create_index([("startTime", DESCENDING)], name="history")
        except PyMongoError as exc:
            raise StoreUnavailable(f"database unavailable: {exc}") from exc

    async def insert_active(self, session: ChargingSession) -> tuple[ChargingSession, bool]:
        """Store a new active session, or return the charger's existing one.

        Returns the session that is active on the charger and whether it is the new one.
        """
        doc = to_document(session)
        try:
            await self._sessions.insert_one(doc)
        except DuplicateKeyError:
            existing = await self.active(session.charger_id)
            if existing is None:  # stopped between our insert and this read: try once more
                return await self.insert_active(session)
            return existing, False
        except PyMongoError as exc:
            raise StoreUnavailable(f"database unavailable: {exc}") from exc
        return from_document(doc), True

    async def active(self, charger_id: str) -> ChargingSession | None:
        """The charger's active session, if any."""
        doc = await self._call(
            self._sessions.find_one({"chargerId": charger_id, "status": CHARGING})
        )
        return from_document(doc) if doc else None

    async def all_active(self) -> list[ChargingSession]:
        """Every active session."""
        cursor = self._sessions.find({"status": CHARGING})
        return [from_document(doc) for doc in await self._call(cursor.to_list(length=None))]

    async def latest(self, charger_id: str) -> ChargingSession | None:
        """The charger's most recent session, active or not."""
        cursor = (
            self._sessions.find({"chargerId": charger_id}).sort("startTime", DESCENDING).limit(1)
        )
        docs = await self._call(cursor.to_list(length=1))
        return from_document(docs[0]) if docs else None

    async def get(self, session_id: str) -> ChargingSession:
        """One session by its `sessionId`."""
        doc = await self._call(self._sessions.find_one({"sessionId": session_id}))
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
        docs = await self._call(cursor.to_list(length=None))
        total = await self._call(self._sessions.count_documents(flt))
        return SessionPage(
            items=[from_document(doc) for doc in docs],
            total=total,
            limit=query.limit,
            offset=query.offset,
        )

    async def save_readings(self, sessions: Sequence[ChargingSession]) -> None:
        """Write one tick's readings of the active sessions: one bulk write."""
        if not sessions:
            return
        updates = [
            (
                {"sessionId": s.session_id, "status": CHARGING},
                {
                    "$max": {"meterWh": s.meter_wh, "energyConsumed": s.energy_consumed},
                    "$set": {"powerKw": s.power_kw, "updatedAt": s.updated_at},
                },
            )
            for s in sessions
        ]
        try:
            if self._memory_documents is not None:
                apply_readings(self._memory_documents, sessions)
            elif self._in_process:
                for flt, change in updates:
                    await self._sessions.update_one(flt, change)
                    await asyncio.sleep(0)  # mongomock runs synchronously: let the loop breathe
            else:
                requests = [UpdateOne(flt, change) for flt, change in updates]
                await self._sessions.bulk_write(requests, ordered=False)
        except PyMongoError as exc:
            raise StoreUnavailable(f"database unavailable: {exc}") from exc

    async def finish(self, stopped: ChargingSession) -> ChargingSession | None:
        """Store a stop; None when the session was no longer active (stopped elsewhere)."""
        doc = await self._call(
            self._sessions.find_one_and_update(
                {"sessionId": stopped.session_id, "status": CHARGING},
                {
                    "$set": {
                        "status": stopped.status.value,
                        "endTime": stopped.end_time,
                        "powerKw": 0.0,
                        "stopReason": stopped.stop_reason,
                        "updatedAt": stopped.updated_at,
                    },
                    "$max": {
                        "meterWh": stopped.meter_wh,
                        "energyConsumed": stopped.energy_consumed,
                    },
                },
                return_document=ReturnDocument.AFTER,
            )
        )
        return from_document(doc) if doc else None

    @staticmethod
    async def _call(pending: Awaitable[T]) -> T:
        try:
            return await pending
        except PyMongoError as exc:
            raise StoreUnavailable(f"database unavailable: {exc}") from exc
