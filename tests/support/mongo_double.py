"""A MongoDB stand-in for measuring the daemon's MongoDB code path: PyMongo's async API, answered
in-process by a "server" with indexes, with BSON on the way in and out as a driver and server would.

No MongoDB server can run on these machines (docs/benchmarks.md). `MongoStore` runs on this double
unchanged: every call builds its filters, updates and `UpdateOne` requests as it would for a
server; each request is encoded to BSON (PyMongo's C encoder, as the driver does before sending)
and each reply decoded from BSON (as the driver does on receipt). The server between them
(tests/support/mongo_server.py) has the indexes the store creates and no others, and answers
each find, count and update as a server with those indexes would: from an index where one
serves the filter and the sort, by a collection scan and an in-memory sort where none does
(tests/support/mongo_index.py); its `Stats` show which.

What this measures is the daemon's side of MongoDB: its own code, PyMongo's request objects and
BSON. What it does not: network round trips, and the server's own work at a server's speed. The
double's server runs in the daemon's process, so its CPU time is counted apart (`Server.cpu_s`)
and reported for subtraction. Only what `MongoStore` uses is implemented; anything else raises.
"""

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

import bson
from bson import ObjectId
from pymongo import IndexModel, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from tests.support.mongo_query import part
from tests.support.mongo_server import Documents, Server

__all__ = ["Collection", "Database", "Server", "wire"]

_OPTIONS: bson.CodecOptions[dict[str, Any]] = bson.CodecOptions(tz_aware=True)
_INDEX_OPTIONS = frozenset({"name", "unique", "partialFilterExpression"})


def wire(value: Mapping[str, Any]) -> dict[str, Any]:
    """`value` as the other side receives it: encoded to BSON and decoded back."""
    return bson.decode(bson.encode(value), codec_options=_OPTIONS)


class Cursor:
    """`find(...).sort(...).skip(...).limit(...).to_list(...)`."""

    def __init__(self, collection: "Collection", flt: Mapping[str, Any]) -> None:
        self._collection = collection
        self._filter = wire(flt)
        self._sort: list[tuple[str, int]] = []
        self._skip = 0
        self._limit = 0

    def sort(self, keys: Sequence[tuple[str, int]]) -> "Cursor":
        if any(direction not in (1, -1) for _, direction in keys):
            raise NotImplementedError(f"sort {keys!r}")
        self._sort = [(name, direction) for name, direction in keys]
        return self

    def skip(self, count: int) -> "Cursor":
        self._skip = count
        return self

    def limit(self, count: int) -> "Cursor":
        self._limit = count
        return self

    async def to_list(self, length: int | None = None) -> list[dict[str, Any]]:
        wanted = [n for n in (self._limit, length) if n]
        limit = min(wanted) if wanted else None
        collection = self._collection
        started = time.process_time()
        found = list(collection.documents.find(self._filter, self._sort, self._skip, limit))
        reply = collection.served(started, {"documents": found})
        return list(reply["documents"])


class Collection:
    """The slice of PyMongo's `AsyncCollection` that `MongoStore` uses."""

    def __init__(self, server: Server, name: str) -> None:
        self.server = server
        self.name = name
        self.documents: Documents = server.collection(name)

    def served(self, started: float, reply: Mapping[str, Any]) -> dict[str, Any]:
        """The reply as the driver decodes it; the serving time (and encoding) counted apart."""
        encoded = bson.encode(reply)
        self.server.cpu_s += time.process_time() - started
        self.server.calls += 1
        return bson.decode(encoded, codec_options=_OPTIONS)

    async def create_index(self, keys: Any, **options: Any) -> str:
        return (await self.create_indexes([IndexModel(keys, **options)]))[0]

    async def create_indexes(self, models: Sequence[IndexModel]) -> list[str]:
        specs = wire({"indexes": [model.document for model in models]})["indexes"]
        started = time.process_time()
        names = []
        for spec in specs:
            if set(spec) - _INDEX_OPTIONS - {"key"}:
                raise NotImplementedError(f"index options {sorted(spec)!r}")
            keys = list(spec["key"].items())
            names.append(
                self.documents.create_index(
                    keys,
                    spec["name"],  # IndexModel names an index when the caller did not
                    unique=bool(spec.get("unique")),
                    partial=spec.get("partialFilterExpression"),
                )
            )
        self.served(started, {"ok": 1})
        return names

    async def drop_index(self, name: str) -> None:
        started = time.process_time()
        try:
            self.documents.drop_index(name)
        finally:
            self.served(started, {"ok": 1})

    async def index_information(self) -> dict[str, dict[str, Any]]:
        started = time.process_time()
        specs = {
            name: {**index.spec(), "key": dict(index.keys)}  # a document on the wire
            for name, index in self.documents.indexes.items()
        }
        reply = self.served(started, specs)
        return {name: {**spec, "key": list(spec["key"].items())} for name, spec in reply.items()}

    async def insert_one(self, doc: dict[str, Any]) -> None:
        doc.setdefault("_id", ObjectId())  # the driver adds it to the caller's document
        sent = wire(doc)
        started = time.process_time()
        try:
            self.documents.insert(sent)
        finally:
            self.served(started, {"ok": 1})

    async def find_one(self, flt: Mapping[str, Any]) -> dict[str, Any] | None:
        found = await self.find(flt).limit(1).to_list()
        return found[0] if found else None

    def find(self, flt: Mapping[str, Any]) -> Cursor:
        return Cursor(self, flt)

    async def count_documents(self, flt: Mapping[str, Any], *, hint: str | None = None) -> int:
        sent = wire(flt)
        started = time.process_time()
        return int(self.served(started, {"n": self.documents.count(sent, hint)})["n"])

    async def distinct(self, key: str, flt: Mapping[str, Any]) -> list[Any]:
        sent = wire(flt)
        started = time.process_time()
        values = {part(doc[key]): doc[key] for doc in self.documents.find(sent, ()) if key in doc}
        return list(self.served(started, {"values": list(values.values())})["values"])

    async def find_one_and_update(
        self,
        flt: Mapping[str, Any],
        change: Mapping[str, Any],
        *,
        upsert: bool = False,
        return_document: bool = ReturnDocument.BEFORE,
    ) -> dict[str, Any] | None:
        sent, changes = wire(flt), wire(change)
        started = time.process_time()
        before, after = self.documents.update(sent, changes, upsert=upsert)
        reply = self.served(started, {"value": after if return_document else before})
        value: dict[str, Any] | None = reply["value"]
        return value

    async def bulk_write(self, requests: Sequence[UpdateOne], *, ordered: bool = True) -> None:
        # The driver encodes every request of a bulk write (filter and update) into its batch.
        sent = wire(
            {
                "ordered": ordered,
                "updates": [
                    {"q": r._filter, "u": r._doc, "upsert": bool(r._upsert)} for r in requests
                ],
            }
        )
        started = time.process_time()
        errors: list[dict[str, Any]] = []
        matched = 0
        for number, request in enumerate(sent["updates"]):
            try:
                before, _ = self.documents.update(
                    request["q"], request["u"], upsert=request["upsert"]
                )
            except DuplicateKeyError as exc:
                errors.append({"index": number, "code": exc.code, "errmsg": str(exc)})
                if ordered:
                    break
            else:
                matched += before is not None
        reply = self.served(started, {"ok": 1, "nMatched": matched, "writeErrors": errors})
        await asyncio.sleep(0)  # the reply comes over the network: the event loop runs meanwhile
        if reply["writeErrors"]:
            raise BulkWriteError(reply)


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
