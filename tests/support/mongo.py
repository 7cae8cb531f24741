"""PyMongo's async API over mongomock-motor, with driver errors raised at chosen operations.

`MongoStore` runs on this exactly as on a server: the same queries, the same unique indexes
(mongomock-motor enforces the partial one). Two differences of mongomock are bridged here, in
test code only: its `bulk_write` cannot take PyMongo 4.20's `UpdateOne` (each request is applied
with `update_one`), and it never fails. `DriverFaults` makes it fail: a chosen operation raises
a chosen PyMongo error, after applying the operation (an acknowledgement lost on the way back) or
without applying it.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from evcsm_daemon.store.mongo import FLUSH_BATCH, MongoStore
from mongomock_motor import AsyncMongoMockClient
from pymongo import UpdateOne
from pymongo.errors import PyMongoError

T = TypeVar("T")


@dataclass
class DriverFaults:
    """Planned failures: operation name → (error, applied first?), used once each, in order."""

    plan: dict[str, list[tuple[PyMongoError, bool]]] = field(default_factory=dict)
    raised: int = 0

    def fail(self, operation: str, error: PyMongoError, *, applied: bool, times: int = 1) -> None:
        """Make the next `times` calls of `operation` raise `error`, applied first or not."""
        self.plan.setdefault(operation, []).extend([(error, applied)] * times)

    async def run(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        """`call()`, unless a failure is planned for `operation`."""
        planned = self.plan.get(operation)
        if not planned:
            return await call()
        error, applied = planned.pop(0)
        if applied:
            await call()
        self.raised += 1
        raise error


class Collection:
    """The slice of PyMongo's `AsyncCollection` the store uses, on a mongomock collection."""

    def __init__(self, inner: Any, faults: DriverFaults) -> None:
        self._inner = inner
        self._faults = faults
        self.name: str = inner.name

    async def create_index(self, keys: Any, **options: Any) -> str:
        return await self._faults.run(
            "create_index", lambda: self._inner.create_index(keys, **options)
        )

    async def index_information(self) -> dict[str, Any]:
        found: dict[str, Any] = await self._faults.run(
            "index_information", self._inner.index_information
        )
        return found

    async def drop_index(self, name: str) -> None:
        await self._faults.run("drop_index", lambda: self._inner.drop_index(name))

    async def insert_one(self, doc: dict[str, Any]) -> Any:
        return await self._faults.run("insert_one", lambda: self._inner.insert_one(doc))

    async def find_one(self, *args: Any, **kwargs: Any) -> Any:
        return await self._faults.run("find_one", lambda: self._inner.find_one(*args, **kwargs))

    def find(self, *args: Any, **kwargs: Any) -> Any:
        return self._inner.find(*args, **kwargs)

    async def distinct(self, key: str, flt: dict[str, Any]) -> list[Any]:
        found: list[Any] = await self._faults.run(
            "distinct", lambda: self._inner.distinct(key, flt)
        )
        return found

    async def count_documents(self, flt: dict[str, Any], **options: Any) -> int:
        counted: int = await self._faults.run(
            "count_documents", lambda: self._inner.count_documents(flt, **options)
        )
        return counted

    async def find_one_and_update(self, *args: Any, **kwargs: Any) -> Any:
        return await self._faults.run(
            "find_one_and_update", lambda: self._inner.find_one_and_update(*args, **kwargs)
        )

    async def bulk_write(self, requests: list[UpdateOne], *, ordered: bool) -> None:
        async def apply() -> None:
            for request in requests:
                await self._inner.update_one(request._filter, request._doc)

        assert ordered is False
        await self._faults.run("bulk_write", apply)


class Database:
    """The slice of PyMongo's `AsyncDatabase` the store uses."""

    def __init__(self, inner: Any, faults: DriverFaults) -> None:
        self._inner = inner
        self._faults = faults
        self.name: str = inner.name

    def __getitem__(self, name: str) -> Collection:
        return Collection(self._inner[name], self._faults)

    async def command(self, name: str) -> Any:
        return await self._faults.run("command", lambda: self._inner.command(name))


def mongomock_database() -> Any:
    """A fresh in-process MongoDB stand-in that keeps timezone-aware datetimes."""
    return AsyncMongoMockClient(tz_aware=True)["evcsm"]


def mongo_store(
    database: Any, faults: DriverFaults | None = None, *, flush_batch: int = FLUSH_BATCH
) -> MongoStore:
    """`MongoStore` on a mongomock-motor database, failing as `faults` plans."""
    return MongoStore(
        Database(database, faults or DriverFaults()), close=lambda: None, flush_batch=flush_batch
    )
