"""The driver double's wire: BSON documents over a local stream socket, and the client's link.

A message is one BSON document, which begins with its own length (a little-endian int32 that
counts itself): a command, which also names its database in `$db` as MongoDB's `OP_MSG` does,
and its reply. A connection carries one command at a time; `Remote` keeps a pool of them, as
PyMongo does (at most `POOL_SIZE`, a caller waiting for one beyond that), opens one when none is
idle, and closes one whose exchange was cut off (its state unknown), cancellation included.

A server that cannot be reached before a command is sent is PyMongo's
`ServerSelectionTimeoutError` (the command certainly did not run); a connection that fails or
closes during an exchange is `AutoReconnect` (a `ConnectionFailure`: it may have run), each
naming the socket and what happened.
"""

import asyncio
import contextlib
import struct
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import bson
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError

from tests.support.mongo_double import OPTIONS

MAX_MESSAGE = 48 * 1024 * 1024
"""A server's largest message (MongoDB's `maxMessageSizeBytes`)."""
POOL_SIZE = 100
"""Connections at most, PyMongo's default `maxPoolSize`."""
_LENGTH = struct.Struct("<i")


class MessageTooLarge(ValueError):
    """A peer announced a message past MAX_MESSAGE or shorter than a document can be."""


async def read_message(reader: asyncio.StreamReader) -> bytes | None:
    """The next BSON document on the stream, or None at a clean end between two messages."""
    try:
        head = await reader.readexactly(_LENGTH.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise
        return None
    (length,) = _LENGTH.unpack(head)
    if not 5 <= length <= MAX_MESSAGE:
        raise MessageTooLarge(f"a message of {length} bytes")
    return head + await reader.readexactly(length - _LENGTH.size)


def socket_uri(path: str, database: str = "evcsm") -> str:
    """The `mongodb://` URI of a server on the Unix socket at `path` (PyMongo's own form)."""
    return f"mongodb://{quote(path, safe='')}/{database}"


def socket_of(uri: str) -> tuple[str, str]:
    """The socket path and the database of a URI `socket_uri` made."""
    parts = urlsplit(uri)
    path = unquote(parts.netloc)
    if not path.startswith("/") or not path.endswith(".sock"):
        raise ValueError(f"not a driver double's socket URI: {uri!r}")
    return path, parts.path.strip("/") or "evcsm"


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        self.writer.close()


class Remote:
    """The link to a server process on a Unix socket: each command an exchange on a pooled
    connection. `sent` and `received` are called around the wait for each reply (no-ops here:
    a benchmark overrides them to time what the event loop did between them)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._idle: list[_Connection] = []
        self._slots: asyncio.Semaphore | None = None

    async def command(self, db: str, command: Mapping[str, Any]) -> dict[str, Any]:
        """Send `command` for database `db`; the reply, decoded."""
        payload = bson.encode({**command, "$db": db})
        name = next(iter(command), "?")
        if self._slots is None:
            self._slots = asyncio.Semaphore(POOL_SIZE)
        async with self._slots:
            conn = self._idle.pop() if self._idle else await self._connect()
            try:
                raw = await self._exchange(conn, payload, command)
            except (OSError, asyncio.IncompleteReadError, MessageTooLarge) as exc:
                conn.close()
                raise AutoReconnect(
                    f"the driver double's server at {self.path} failed during {name!r}: {exc}"
                ) from exc
            except BaseException:
                conn.close()  # cut off mid-exchange: its reply may still come
                raise
            self._idle.append(conn)
        self.received(command)
        return bson.decode(raw, codec_options=OPTIONS)

    def sent(self, command: Mapping[str, Any]) -> None:
        """`command` is on its way; its reply is awaited next."""

    def received(self, command: Mapping[str, Any]) -> None:
        """The reply to `command` came (the caller resumes next)."""

    async def _exchange(
        self, conn: _Connection, payload: bytes, command: Mapping[str, Any]
    ) -> bytes:
        conn.writer.write(payload)
        await conn.writer.drain()
        self.sent(command)
        raw = await read_message(conn.reader)
        if raw is None:
            raise ConnectionResetError("the server closed the connection")
        return raw

    async def _connect(self) -> _Connection:
        try:
            reader, writer = await asyncio.open_unix_connection(self.path)
        except OSError as exc:
            raise ServerSelectionTimeoutError(
                f"no driver double's server at {self.path}: {exc}"
            ) from exc
        return _Connection(reader, writer)

    async def close(self) -> None:
        """Close the idle connections."""
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        for conn in idle:
            with contextlib.suppress(OSError):  # already gone with the server
                await conn.writer.wait_closed()
