"""The store backends every conformance test runs on; a new backend joins by adding one here.

Each `Backend` holds one database for one test and opens stores on it: two stores opened from
the same backend see the same sessions, as two daemons on one database do.
"""

import uuid
from pathlib import Path
from typing import Any, Protocol

from evcsm_daemon.store import SessionStore
from evcsm_daemon.store.memory import MemoryStore
from evcsm_daemon.store.mongo import MongoStore
from evcsm_daemon.store.sqlite import SqliteStore

from tests.support.mongo import DriverFaults, mongo_store, mongomock_database
from tests.support.mongo_process import DoubleProcess


class Backend(Protocol):
    """Opens stores on one database."""

    name: str

    def open(self) -> SessionStore:
        """A new store on this backend's database (no IO until `ensure_indexes`)."""


class MongoBackend:
    """MongoStore, PyMongo's code path, on mongomock-motor; `faults` fails driver calls."""

    name = "mongodb"

    def __init__(self) -> None:
        self.database: Any = mongomock_database()
        self.faults = DriverFaults()

    def open(self) -> SessionStore:
        return mongo_store(self.database, self.faults)


class MongoDoubleBackend:
    """MongoStore on the benchmarks' driver double (tests/support/mongo_double.py), its server a
    process of its own reached over a Unix socket, as the benchmarks run it: the conformance
    suite checks that the double answers as a server would. Each backend is a database of its
    own on the test session's one server process; each store has its own connections."""

    name = "mongodb-double"

    def __init__(self, server: DoubleProcess) -> None:
        self.server = server
        self.name_of_database = f"test-{uuid.uuid4().hex}"

    def open(self) -> SessionStore:
        database = self.server.database(self.name_of_database)
        return MongoStore(database, close=database.close)


class MemoryBackend:
    """The in-process store (this process's one memory database)."""

    name = "memory"

    def open(self) -> SessionStore:
        return MemoryStore()


class SqliteBackend:
    """A SQLite file in the test's own folder; flushes in slices of 3 readings, so that every
    test of several readings writes them in several slices."""

    name = "sqlite"

    def __init__(self, folder: Path) -> None:
        self.path = folder / "sessions.db"

    def open(self) -> SessionStore:
        return SqliteStore(self.path, flush_slice=3)


BACKENDS = ("mongodb", "mongodb-double", "memory", "sqlite")


def backend(name: str, folder: Path, double: DoubleProcess | None = None) -> Backend:
    """The backend called `name`, with any file it keeps in `folder`, and for `mongodb-double`
    the driver double's server process `double`."""
    if name == "mongodb":
        return MongoBackend()
    if name == "mongodb-double":
        if double is None:
            raise ValueError("mongodb-double needs the driver double's server process")
        return MongoDoubleBackend(double)
    if name == "memory":
        return MemoryBackend()
    if name == "sqlite":
        return SqliteBackend(folder)
    raise ValueError(name)
