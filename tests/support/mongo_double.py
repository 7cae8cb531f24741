"""A MongoDB stand-in for measuring the daemon's MongoDB code path: the slice of PyMongo's async
API that `MongoStore` uses, sending MongoDB's commands to a "server" with indexes, BSON on the
way in and out as a driver and a server would.

No MongoDB server can run on these machines (docs/benchmarks.md). `MongoStore` runs on this double
unchanged: every call builds its filters, updates and `UpdateOne` requests as it would for a
server; the double turns each call into the command a driver sends (`find`, `update`,
`findAndModify`, ...: tests/support/mongo_commands.py), encoded to BSON with PyMongo's C encoder,
and decodes the reply from BSON as the driver does on receipt, raising from a refusal what
PyMongo raises (`DuplicateKeyError`, `WriteError`, `BulkWriteError` with its details,
`OperationFailure` with the server's code). The server (tests/support/mongo_server.py) has the
indexes the store creates and no others, and answers each find, count and update as a server
with those indexes would: from an index where one serves the filter and the sort, by a
collection scan and an in-memory sort where none does (tests/support/mongo_index.py); its
`Stats` show which.

Where the server runs is the link's business:

- `Local(server)`, the default: in this process, each command's BSON handed over and the reply
  returned after one turn of the event loop. Tests use it to look at the server's documents
  and indexes directly.
- `Remote(path)` (tests/support/mongo_wire.py): a server process of its own
  (tests/support/mongo_process.py) over a Unix socket, as a real server is reached: each call
  is an await on the socket, the server's CPU is that process's, and a server that goes away
  is PyMongo's `AutoReconnect` mid-call or `ServerSelectionTimeoutError` before it. The
  benchmarks use it.

What this measures is the daemon's side of MongoDB: its own code, PyMongo's request objects and
BSON, and with `Remote` a round trip over a local socket. What it does not: the server's own
work at a server's speed. Only what `MongoStore` uses is implemented; anything else raises.
"""

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import bson
from bson import ObjectId
from pymongo import IndexModel, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, WriteError

from tests.support.mongo_commands import NOT_IMPLEMENTED, execute
from tests.support.mongo_server import Documents, Server, Stats

__all__ = ["Collection", "Database", "Local", "Server", "Status", "wire"]

OPTIONS: bson.CodecOptions[dict[str, Any]] = bson.CodecOptions(tz_aware=True)
DUPLICATE_KEY = 11000


def wire(value: Mapping[str, Any]) -> dict[str, Any]:
    """`value` as the other side receives it: encoded to BSON and decoded back."""
    return bson.decode(bson.encode(value), codec_options=OPTIONS)


class Link(Protocol):
    """Carries one command of database `db` to the server and brings its reply back."""

    async def command(self, db: str, command: Mapping[str, Any]) -> dict[str, Any]:
        """The server's reply to `command`, decoded."""

    async def close(self) -> None:
        """Close whatever the link keeps open."""


class Local:
    """The server in this process: a command's BSON decoded and run, its reply's BSON decoded
    after one turn of the event loop (as a reply coming over a network lets the loop run)."""

    def __init__(self, server: Server | None = None) -> None:
        self.server = server or Server()

    async def command(self, db: str, command: Mapping[str, Any]) -> dict[str, Any]:
        received = bson.decode(bson.encode(command), codec_options=OPTIONS)
        reply = bson.encode(execute(self.server, received))
        await asyncio.sleep(0)
        return bson.decode(reply, codec_options=OPTIONS)

    async def close(self) -> None:
        """Nothing to close."""


class Status:
    """The double's server counters, its process's CPU time and RSS (`doubleStatus`)."""

    def __init__(self, reply: Mapping[str, Any]) -> None:
        self.stats = Stats(int(reply["fetched"]), int(reply["sorted"]), int(reply["scans"]))
        self.calls = int(reply["calls"])
        self.serving_s = float(reply["servingSeconds"])
        """CPU time spent running commands."""
        self.process_s = float(reply["processSeconds"])
        """CPU time of the server's whole process (reading, decoding, encoding included)."""
        self.rss_bytes = int(reply["rssBytes"])
        """The server process's resident set size."""


def checked(reply: dict[str, Any], *, write: bool = False) -> dict[str, Any]:
    """`reply` if the command succeeded; the server's refusal raised as PyMongo raises it."""
    if reply.get("ok"):
        return reply
    code, message = int(reply.get("code", 0)), str(reply.get("errmsg", "refused"))
    if code == NOT_IMPLEMENTED:
        raise NotImplementedError(message)
    if code == DUPLICATE_KEY:
        raise DuplicateKeyError(message, code, reply)
    if write:
        raise WriteError(message, code, reply)
    raise OperationFailure(message, code, reply)


class Cursor:
    """`find(...).sort(...).skip(...).limit(...).to_list(...)`."""

    def __init__(self, collection: "Collection", flt: Mapping[str, Any]) -> None:
        self._collection = collection
        self._command: dict[str, Any] = {"find": collection.name, "filter": flt}

    def sort(self, keys: Sequence[tuple[str, int]]) -> "Cursor":
        self._command["sort"] = dict(keys)
        return self

    def skip(self, count: int) -> "Cursor":
        self._command["skip"] = count
        return self

    def limit(self, count: int) -> "Cursor":
        self._command["limit"] = count
        return self

    async def to_list(self, length: int | None = None) -> list[dict[str, Any]]:
        wanted = [n for n in (self._command.get("limit"), length) if n]
        command = {**self._command, "limit": min(wanted)} if wanted else self._command
        reply = await self._collection.run(command)
        return list(reply["cursor"]["firstBatch"])


class Collection:
    """The slice of PyMongo's `AsyncCollection` that `MongoStore` uses."""

    def __init__(self, database: "Database", name: str) -> None:
        self.database = database
        self.name = name

    @property
    def server(self) -> Server:
        """The server, when it runs in this process."""
        return self.database.server

    @property
    def documents(self) -> Documents:
        """This collection on the server, when it runs in this process."""
        return self.server.collection(self.name)

    async def run(self, command: Mapping[str, Any], *, write: bool = False) -> dict[str, Any]:
        """The server's reply to `command`, a refusal raised."""
        return checked(await self.database.link.command(self.database.name, command), write=write)

    async def create_index(self, keys: Any, **options: Any) -> str:
        return (await self.create_indexes([IndexModel(keys, **options)]))[0]

    async def create_indexes(self, models: Sequence[IndexModel]) -> list[str]:
        specs = [model.document for model in models]
        await self.run({"createIndexes": self.name, "indexes": specs})
        return [str(spec["name"]) for spec in specs]  # IndexModel names an unnamed index

    async def drop_index(self, name: str) -> None:
        await self.run({"dropIndexes": self.name, "index": name})

    async def index_information(self) -> dict[str, dict[str, Any]]:
        reply = await self.run({"listIndexes": self.name})
        return {
            spec.pop("name"): {**spec, "key": list(spec["key"].items())}
            for spec in reply["cursor"]["firstBatch"]
        }

    async def insert_one(self, doc: dict[str, Any]) -> None:
        doc.setdefault("_id", ObjectId())  # the driver adds it to the caller's document
        reply = await self.run({"insert": self.name, "documents": [doc], "ordered": True})
        if errors := reply.get("writeErrors"):
            checked({"ok": 0, **errors[0]}, write=True)

    async def insert_many(self, docs: Sequence[dict[str, Any]]) -> int:
        """Insert `docs` in order, each given its `_id`; how many; `BulkWriteError` on a refusal
        (the ones before it stay)."""
        for doc in docs:
            doc.setdefault("_id", ObjectId())
        reply = await self.run({"insert": self.name, "documents": list(docs), "ordered": True})
        if reply.get("writeErrors"):
            raise BulkWriteError({**reply, "nInserted": reply["n"]})
        return int(reply["n"])

    async def find_one(self, flt: Mapping[str, Any]) -> dict[str, Any] | None:
        found = await self.find(flt).limit(1).to_list()
        return found[0] if found else None

    def find(self, flt: Mapping[str, Any]) -> Cursor:
        return Cursor(self, flt)

    async def count_documents(self, flt: Mapping[str, Any], *, hint: str | None = None) -> int:
        command: dict[str, Any] = {"count": self.name, "query": flt}
        if hint is not None:
            command["hint"] = hint
        return int((await self.run(command))["n"])

    async def distinct(self, key: str, flt: Mapping[str, Any]) -> list[Any]:
        reply = await self.run({"distinct": self.name, "key": key, "query": flt})
        return list(reply["values"])

    async def find_one_and_update(
        self,
        flt: Mapping[str, Any],
        change: Mapping[str, Any],
        *,
        upsert: bool = False,
        return_document: bool = ReturnDocument.BEFORE,
    ) -> dict[str, Any] | None:
        command = {
            "findAndModify": self.name,
            "query": flt,
            "update": change,
            "upsert": upsert,
            "new": bool(return_document),
        }
        value: dict[str, Any] | None = (await self.run(command, write=True))["value"]
        return value

    async def bulk_write(self, requests: Sequence[UpdateOne], *, ordered: bool = True) -> None:
        # The driver encodes every request of a bulk write (filter and update) into its batch.
        updates = [{"q": r._filter, "u": r._doc, "upsert": bool(r._upsert)} for r in requests]
        reply = await self.run({"update": self.name, "updates": updates, "ordered": ordered})
        if reply.get("writeErrors"):
            raise BulkWriteError({**reply, "nMatched": reply["nModified"]})


class Database:
    """The slice of PyMongo's `AsyncDatabase` that `MongoStore` uses, on a server in this
    process (`server`, a new one by default) or reached through `link`."""

    def __init__(
        self, server: Server | None = None, *, link: Link | None = None, name: str = "evcsm"
    ) -> None:
        self.link: Link = link or Local(server)
        self.name = name

    @property
    def server(self) -> Server:
        """The server, when it runs in this process."""
        if not isinstance(self.link, Local):
            raise TypeError("the double's server runs in another process: ask it for status()")
        return self.link.server

    def __getitem__(self, name: str) -> Collection:
        return Collection(self, name)

    async def command(self, name: str) -> dict[str, Any]:
        if name != "ping":
            raise NotImplementedError(name)
        return checked(await self.link.command(self.name, {"ping": 1}))

    async def close(self) -> None:
        """Close the link's connections, as a client's `close` does."""
        await self.link.close()

    async def status(self) -> Status:
        """The server's counters for this database, and its process's CPU time."""
        return Status(checked(await self.link.command(self.name, {"doubleStatus": 1})))
