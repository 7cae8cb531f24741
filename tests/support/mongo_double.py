"""A MongoDB stand-in for measuring the daemon's MongoDB code path: PyMongo's async API, answered
in-process from indexed dicts, with BSON on the way in and out as a driver and server would.

No MongoDB server can run on these machines (docs/benchmarks.md). `MongoStore` runs on this double
unchanged: every call builds its filters, updates and `UpdateOne` requests as it would for a
server; each request is encoded to BSON (PyMongo's C encoder, as the driver does before sending)
and each reply decoded from BSON (as the driver does on receipt). The "server" between them keeps
documents in a dict by `sessionId`, with the indexes the store creates (one active session per
charger, `sessionId`, per-charger and global history by `startTime`), so every call costs
O(log n) or O(page), as an indexed server query would.

What this measures is the daemon's side of MongoDB: its own code, PyMongo's request objects and
BSON. What it does not: network round trips, and the server's own work. The double's "server"
runs in the daemon's process, so its CPU time is counted apart (`Server.cpu_s`) and reported for
subtraction. Only what `MongoStore` uses is implemented; anything else raises.
"""

import asyncio
import time
from bisect import bisect_left, insort
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import bson
from bson import ObjectId
from pymongo import UpdateOne
from pymongo.errors import DuplicateKeyError

Key = tuple[datetime, ObjectId]
CHARGING = "Charging"


_OPTIONS: bson.CodecOptions[dict[str, Any]] = bson.CodecOptions(tz_aware=True)


def wire(value: Mapping[str, Any]) -> dict[str, Any]:
    """`value` as the other side receives it: encoded to BSON and decoded back."""
    return bson.decode(bson.encode(value), codec_options=_OPTIONS)


@dataclass
class Server:
    """The documents, their indexes, and the CPU time spent serving."""

    docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    active: dict[str, str] = field(default_factory=dict)
    history: list[tuple[datetime, ObjectId, str]] = field(default_factory=list)
    by_charger: dict[str, list[tuple[datetime, ObjectId, str]]] = field(default_factory=dict)
    transactions: dict[int, str] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    cpu_s: float = 0.0
    calls: int = 0

    def insert(self, doc: dict[str, Any]) -> None:
        """Insert under the unique indexes (sessionId; chargerId among Charging documents)."""
        session_id, charger_id = doc["sessionId"], doc["chargerId"]
        transaction_id = doc.get("transactionId")
        if (
            session_id in self.docs
            or (doc["status"] == CHARGING and charger_id in self.active)
            or (transaction_id is not None and transaction_id in self.transactions)
        ):
            raise DuplicateKeyError("E11000 duplicate key error")
        self.docs[session_id] = doc
        if transaction_id is not None:
            self.transactions[transaction_id] = session_id
        if doc["status"] == CHARGING:
            self.active[charger_id] = session_id
        key = (doc["startTime"], doc["_id"], session_id)
        insort(self.history, key)
        insort(self.by_charger.setdefault(charger_id, []), key)

    def one(self, flt: Mapping[str, Any]) -> dict[str, Any] | None:
        """The document one of the store's point filters matches."""
        if set(flt) == {"sessionId"} or set(flt) == {"sessionId", "status"}:
            doc = self.docs.get(flt["sessionId"])
            return doc if doc and flt.get("status", doc["status"]) == doc["status"] else None
        if set(flt) == {"chargerId", "status"} and flt["status"] == CHARGING:
            found = self.active.get(flt["chargerId"])
            return self.docs[found] if found else None
        if set(flt) == {"transactionId"}:
            found = self.transactions.get(flt["transactionId"])
            return self.docs[found] if found else None
        raise NotImplementedError(f"filter {flt!r}")

    def update(self, doc: dict[str, Any], change: Mapping[str, Any]) -> None:
        """Apply `$set` and `$max` to `doc`, keeping the active index in step."""
        for name, value in change.get("$max", {}).items():
            if name not in doc or doc[name] < value:
                doc[name] = value
        doc.update(change.get("$set", {}))
        if doc["status"] != CHARGING and self.active.get(doc["chargerId"]) == doc["sessionId"]:
            del self.active[doc["chargerId"]]

    def select(self, flt: Mapping[str, Any], stop: int | None = None) -> list[dict[str, Any]]:
        """Documents matching a history filter, newest first (startTime, then _id); the first
        `stop` of them when given, read no further, as a server walking an index would."""
        if flt == {"status": CHARGING}:  # the one-active-per-charger index holds them all
            active = [self.docs[session_id] for session_id in self.active.values()]
            active.sort(key=lambda doc: (doc["startTime"], doc["_id"]), reverse=True)
            return active[:stop]
        rows = self.history if "chargerId" not in flt else self.by_charger.get(flt["chargerId"], [])
        started = flt.get("startTime", {})
        lo = bisect_left(rows, (started["$gte"],)) if "$gte" in started else 0
        hi = bisect_left(rows, (started["$lt"],)) if "$lt" in started else len(rows)
        status = flt.get("status")
        found: list[dict[str, Any]] = []
        for index in range(hi - 1, lo - 1, -1):
            doc = self.docs[rows[index][2]]
            if status is None or doc["status"] == status:
                found.append(doc)
                if stop is not None and len(found) >= stop:
                    break
        return found


class Cursor:
    """`find(...).sort(...).skip(...).limit(...).to_list(...)`."""

    def __init__(self, collection: "Collection", flt: Mapping[str, Any]) -> None:
        self._collection = collection
        self._filter = wire(flt)
        self._skip = 0
        self._limit = 0

    def sort(self, keys: Sequence[tuple[str, int]]) -> "Cursor":
        if [name for name, _ in keys] != ["startTime", "_id"]:
            raise NotImplementedError(f"sort {keys!r}")
        return self

    def skip(self, count: int) -> "Cursor":
        self._skip = count
        return self

    def limit(self, count: int) -> "Cursor":
        self._limit = count
        return self

    async def to_list(self, length: int | None = None) -> list[dict[str, Any]]:
        server = self._collection.server
        started = time.process_time()
        wanted = [n for n in (self._limit, length) if n]
        stop = self._skip + min(wanted) if wanted else None
        found = server.select(self._filter, stop)[self._skip :]
        reply = bson.encode({"documents": found})
        server.cpu_s += time.process_time() - started
        server.calls += 1
        documents: list[dict[str, Any]] = bson.decode(reply, codec_options=_OPTIONS)["documents"]
        return documents


class Collection:
    """The slice of PyMongo's `AsyncCollection` that `MongoStore` uses."""

    def __init__(self, server: Server, name: str) -> None:
        self.server = server
        self.name = name

    def _serve(self, started: float, reply: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The reply as the driver decodes it; the serving time counted apart."""
        encoded = bson.encode(reply) if reply is not None else None
        self.server.cpu_s += time.process_time() - started
        self.server.calls += 1
        return bson.decode(encoded, codec_options=_OPTIONS) if encoded is not None else None

    async def create_index(self, keys: Any, **options: Any) -> str:
        return str(options.get("name", keys))

    async def insert_one(self, doc: dict[str, Any]) -> None:
        sent = wire(doc)
        started = time.process_time()
        try:
            self.server.insert(sent)
        finally:
            self._serve(started, None)

    async def find_one(self, flt: Mapping[str, Any]) -> dict[str, Any] | None:
        sent = wire(flt)
        started = time.process_time()
        return self._serve(started, self.server.one(sent))

    def find(self, flt: Mapping[str, Any]) -> Cursor:
        return Cursor(self, flt)

    async def count_documents(self, flt: Mapping[str, Any]) -> int:
        sent = wire(flt)
        started = time.process_time()
        if set(sent) <= {"startTime", "chargerId"}:  # an index range: no document read
            rows = self.server.history
            if "chargerId" in sent:
                rows = self.server.by_charger.get(sent["chargerId"], [])
            started_at = sent.get("startTime", {})
            lo = bisect_left(rows, (started_at["$gte"],)) if "$gte" in started_at else 0
            hi = bisect_left(rows, (started_at["$lt"],)) if "$lt" in started_at else len(rows)
            count = max(0, hi - lo)
        else:
            count = len(self.server.select(sent))
        reply = self._serve(started, {"n": count})
        return int(reply["n"]) if reply else 0

    async def distinct(self, key: str, flt: Mapping[str, Any]) -> list[Any]:
        sent = wire(flt)
        started = time.process_time()
        if sent != {"chargePointId": {"$ne": None}} or key != "chargerId":
            raise NotImplementedError(f"distinct {key!r} {flt!r}")
        docs = self.server.docs.values()
        values = sorted({d["chargerId"] for d in docs if d.get("chargePointId") is not None})
        reply = self._serve(started, {"values": values})
        return list(reply["values"]) if reply else []

    async def find_one_and_update(
        self,
        flt: Mapping[str, Any],
        change: Mapping[str, Any],
        **_options: object,  # upsert and return_document: the store asks for what this does
    ) -> dict[str, Any] | None:
        sent, changes = wire(flt), wire(change)
        started = time.process_time()
        if self.name == "counters":
            name = sent["_id"]
            self.server.counters[name] = (
                self.server.counters.get(name, 0) + changes["$inc"]["value"]
            )
            return self._serve(started, {"_id": name, "value": self.server.counters[name]})
        doc = self.server.one(sent)
        if doc is not None:
            self.server.update(doc, changes)
        return self._serve(started, doc)

    async def bulk_write(self, requests: Sequence[UpdateOne], *, ordered: bool) -> None:
        # The driver encodes every request of a bulk write (filter and update) into its batch.
        sent = wire(
            {"ordered": ordered, "updates": [{"q": r._filter, "u": r._doc} for r in requests]}
        )
        started = time.process_time()
        for request in sent["updates"]:
            doc = self.server.one(request["q"])
            if doc is not None:
                self.server.update(doc, request["u"])
        self._serve(started, {"ok": 1, "nModified": len(requests)})
        await asyncio.sleep(0)  # the reply comes over the network: the event loop runs meanwhile


class Database:
    """The slice of PyMongo's `AsyncDatabase` that `MongoStore` uses."""

    def __init__(self, server: Server | None = None) -> None:
        self.server = server or Server()
        self.name = "evcsm"

    def __getitem__(self, name: str) -> Collection:
        return Collection(self.server, name)

    async def command(self, name: str) -> dict[str, Any]:
        if name != "ping":
            raise NotImplementedError(name)
        return {"ok": 1}
