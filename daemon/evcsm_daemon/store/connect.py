"""Opening the database: a MongoDB URI through PyMongo's async client, or `memory`.

`memory` is mongomock-motor's in-process store, for demos and tests: the same `SessionStore`
code runs on it. There is one such database per process, so, like a real server, it outlives a
daemon that stops and starts again in the same process. Its API differs from PyMongo's async one
in the places `SessionStore` notes.
"""

import functools
import re
from typing import Any

from pymongo import AsyncMongoClient

from evcsm_daemon.store.sessions import SessionStore

MEMORY = "memory"
DEFAULT_DATABASE = "evcsm"


def redact_uri(uri: str) -> str:
    """The URI with any password replaced, fit for a log line."""
    return re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", uri)


@functools.cache
def _memory_database() -> Any:  # noqa: ANN401 - a mongomock-motor database
    from mongomock_motor import AsyncMongoMockClient  # noqa: PLC0415 - only for `memory`

    return AsyncMongoMockClient(tz_aware=True)[DEFAULT_DATABASE]


def reset_memory() -> None:
    """Forget the in-process database (tests start from an empty one)."""
    _memory_database.cache_clear()


def open_store(uri: str, *, timeout_ms: int = 5000) -> SessionStore:
    """A store on the database the URI names (`memory` for the in-process store)."""
    if uri == MEMORY:
        return SessionStore(_memory_database(), in_process=True, close=lambda: None)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        uri, tz_aware=True, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
    )
    database = client.get_default_database(default=DEFAULT_DATABASE)
    return SessionStore(database, in_process=False, close=client.close)
