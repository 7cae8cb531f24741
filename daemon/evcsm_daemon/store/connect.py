"""Opening a store: the URI's scheme picks the backend, in one registry.

| URI | backend |
|---|---|
| `mongodb://...`, `mongodb+srv://...` | MongoDB through PyMongo's async client (`store.mongo`) |
| `sqlite:PATH` (`sqlite:///abs/path` too) | a local SQLite file (`store.sqlite`) |
| `memory` | this process's memory, for tests and demos (`store.memory`) |

Opening does no IO: `ensure_indexes()` is the first call that reaches the database.
"""

import re
from collections.abc import Callable
from typing import Any

from pymongo import AsyncMongoClient

from evcsm_daemon.store.base import SessionStore
from evcsm_daemon.store.memory import MemoryStore
from evcsm_daemon.store.mongo import MongoStore
from evcsm_daemon.store.sqlite import SqliteStore, sqlite_path

DEFAULT_DATABASE = "evcsm"

Opener = Callable[[str, int], SessionStore]
"""Opens a store on a URI of its scheme, with a connection timeout in ms."""


def redact_uri(uri: str) -> str:
    """The URI with any password replaced, fit for a log line."""
    return re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", uri)


def _mongodb(uri: str, timeout_ms: int) -> SessionStore:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        uri, tz_aware=True, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
    )
    database = client.get_default_database(default=DEFAULT_DATABASE)
    return MongoStore(database, close=client.close)


def _sqlite(uri: str, timeout_ms: int) -> SessionStore:
    return SqliteStore(sqlite_path(uri), timeout_ms=timeout_ms)


def _memory(uri: str, timeout_ms: int) -> SessionStore:  # noqa: ARG001 - nothing to wait for
    return MemoryStore()


BACKENDS: dict[str, Opener] = {
    "mongodb": _mongodb,
    "mongodb+srv": _mongodb,
    "sqlite": _sqlite,
    "memory": _memory,
}
"""Scheme → opener: the one place a backend is chosen."""


def scheme_of(uri: str) -> str:
    """The URI's scheme (`memory` has no colon and is its own), checked against BACKENDS."""
    scheme = uri.partition(":")[0].lower() if ":" in uri else uri
    if scheme not in BACKENDS:
        known = ", ".join(f"{name}:" if name != "memory" else name for name in BACKENDS)
        raise ValueError(f"unknown store {redact_uri(uri)!r}: use one of {known}")
    return scheme


def check_uri(uri: str) -> str:
    """`uri` if a backend takes it; ValueError naming the problem otherwise (no IO)."""
    if scheme_of(uri) == "sqlite":
        sqlite_path(uri)
    return uri


def open_store(uri: str, *, timeout_ms: int = 5000) -> SessionStore:
    """A store on what the URI names; see the module docstring for the schemes."""
    return BACKENDS[scheme_of(uri)](uri, timeout_ms)
