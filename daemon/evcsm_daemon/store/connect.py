"""Opening the database: a MongoDB URI through PyMongo's async client, or `memory`.

`memory` is mongomock-motor's in-process store, for demos and tests: the same `SessionStore`
code runs on it. Its API differs from PyMongo's async one in the places `SessionStore` notes.
"""

import re
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.uri_parser import parse_uri

from evcsm_daemon.store.sessions import SessionStore

MEMORY = "memory"
DEFAULT_DATABASE = "evcsm"


def redact_uri(uri: str) -> str:
    """The URI with any password replaced, fit for a log line."""
    return re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", uri)


def open_store(uri: str, *, timeout_ms: int = 5000) -> SessionStore:
    """A store on the database the URI names (`memory` for the in-process store)."""
    if uri == MEMORY:
        from mongomock_motor import AsyncMongoMockClient  # noqa: PLC0415 - only for `memory`

        memory: Any = AsyncMongoMockClient(tz_aware=True)
        return SessionStore(memory[DEFAULT_DATABASE], in_process=True, close=memory.close)
    name = parse_uri(uri).get("database") or DEFAULT_DATABASE
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        uri, tz_aware=True, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
    )
    return SessionStore(client[name], in_process=False, close=client.close)
