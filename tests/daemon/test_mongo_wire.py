"""The driver double's server in a process of its own (tests/support/mongo_process.py), reached
over a Unix socket (tests/support/mongo_wire.py): commands and replies as BSON on the wire,
refusals raised on the client's side as PyMongo raises them, a server that goes away surfacing
as PyMongo's connection errors (and through `MongoStore` as the store's), and no server process
outliving whoever started it."""

import asyncio
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import bson
import pytest
from bson import ObjectId
from evcsm_daemon.core.sessions import MeterReading, begin, observe
from evcsm_daemon.errors import StoreUnavailable, WriteNotConfirmed
from evcsm_daemon.store.mongo import MongoStore
from pymongo import UpdateOne
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    DuplicateKeyError,
    OperationFailure,
    ServerSelectionTimeoutError,
    WriteError,
)

from tests.support.clock import T0
from tests.support.mongo_double import Database
from tests.support.mongo_process import REPO, DoubleProcess
from tests.support.mongo_wire import Remote, read_message, socket_of, socket_uri

DEADLINE_S = 30.0


@pytest.fixture
async def database(
    double_process: DoubleProcess, request: pytest.FixtureRequest
) -> AsyncIterator[Database]:
    """A database of its own on the session's server process."""
    opened = double_process.database(f"wire-{request.node.name}-{ObjectId()}")
    yield opened
    await opened.close()


@pytest.fixture
def own_server() -> Iterator[DoubleProcess]:
    """A server process for this test alone (it is stopped or killed)."""
    with DoubleProcess() as server:
        yield server


async def test_a_command_and_its_reply_cross_the_socket_as_bson(database: Database) -> None:
    sessions = database["sessions"]
    stored = {"_id": ObjectId(), "chargerId": "CP1", "startTime": T0, "meterWh": 2**40, "x": None}
    await sessions.insert_one(dict(stored))
    found = await sessions.find_one({"chargerId": "CP1"})
    assert found == stored
    assert found is not None
    assert found["startTime"].utcoffset() == timedelta(0)  # decoded aware, as the driver's
    status = await database.status()
    assert status.calls == 2
    assert (status.stats.scans, status.stats.fetched) == (1, 1)  # no index on chargerId
    assert status.process_s > 0


async def test_refusals_are_raised_as_pymongo_raises_them(database: Database) -> None:
    sessions = database["sessions"]
    await sessions.create_index([("chargerId", 1)], name="one_active", unique=True)
    first = {"_id": ObjectId(), "chargerId": "CP1", "status": "Charging"}
    await sessions.insert_one(dict(first))
    with pytest.raises(DuplicateKeyError, match="one_active") as duplicate:
        await sessions.insert_one({"chargerId": "CP1"})
    assert duplicate.value.code == 11000
    with pytest.raises(WriteError, match="immutable"):
        await sessions.find_one_and_update({"_id": first["_id"]}, {"$set": {"_id": 1}})
    other = {"_id": ObjectId(), "chargerId": "CP2"}
    await sessions.insert_one(dict(other))
    with pytest.raises(BulkWriteError) as bulk:
        await sessions.bulk_write(
            [
                UpdateOne({"_id": other["_id"]}, {"$set": {"powerKw": 1.0}}),
                UpdateOne({"_id": other["_id"]}, {"$set": {"chargerId": "CP1"}}),
            ],
            ordered=False,
        )
    assert [e["index"] for e in bulk.value.details["writeErrors"]] == [1]
    assert bulk.value.details["nMatched"] == 1
    with pytest.raises(OperationFailure) as missing:
        await sessions.drop_index("nothing")
    assert missing.value.code == 27
    with pytest.raises(NotImplementedError, match=r"\$regex"):
        await sessions.find_one({"chargerId": {"$regex": "CP"}})
    assert await sessions.find_one({"_id": other["_id"]}) == {**other, "powerKw": 1.0}


async def test_a_malformed_message_is_refused_and_the_connection_kept(
    double_process: DoubleProcess,
) -> None:
    reader, writer = await asyncio.open_unix_connection(double_process.path)
    try:
        for message in (bson.encode({"ping": 1}), bson.encode({"nothing": 1, "$db": "x"})):
            writer.write(message)  # the first has no $db, the second names no command
            reply = bson.decode(await read_message(reader) or b"")
            assert reply["ok"] == 0
            assert reply["errmsg"]
        writer.write(bson.encode({"ping": 1, "$db": "x"}))
        assert bson.decode(await read_message(reader) or b"")["ok"] == 1
        writer.write(struct.pack("<i", 2**30))  # past any message's size: the connection closes
        assert await reader.read() == b""
    finally:
        writer.close()
    assert await double_process.database("x").command("ping") == {"ok": 1}


async def test_a_server_that_dies_mid_call_is_a_connection_failure(
    own_server: DoubleProcess,
) -> None:
    database = own_server.database()
    store = MongoStore(database, close=database.close)
    await store.ensure_indexes()
    session, _ = await store.insert_active(begin("CP1", 0, T0))
    os.kill(own_server.pid, signal.SIGSTOP)  # it takes the next command and never answers
    flush = asyncio.create_task(
        store.save_readings([observe(session, MeterReading(5, 7.4), T0 + timedelta(seconds=1))]),
        name="flush-to-a-stopped-server",
    )
    for _ in range(20):
        await asyncio.sleep(0)
    assert not flush.done()
    os.kill(own_server.pid, signal.SIGKILL)
    with pytest.raises(WriteNotConfirmed) as unconfirmed:
        await flush
    cause = unconfirmed.value.__cause__
    assert isinstance(cause, AutoReconnect)
    assert own_server.path in str(cause)
    assert "'update'" in str(cause)
    own_server.stop()
    with pytest.raises(StoreUnavailable, match="no driver double's server"):
        await store.active("CP1")  # nothing listens: the command was never sent
    assert not await store.ping()
    await store.close()


async def test_a_call_cut_off_leaves_no_reply_behind_for_the_next(
    own_server: DoubleProcess,
) -> None:
    database = own_server.database()
    sessions = database["sessions"]
    await sessions.insert_one({"_id": "a", "n": 1})
    os.kill(own_server.pid, signal.SIGSTOP)
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await sessions.find_one({"_id": "a"})
    finally:
        os.kill(own_server.pid, signal.SIGCONT)
    await sessions.insert_one({"_id": "b", "n": 2})
    assert await sessions.find_one({"_id": "b"}) == {"_id": "b", "n": 2}
    await database.close()


async def test_a_server_that_is_not_there_was_never_sent_anything(tmp_path: Path) -> None:
    database = Database(link=Remote(str(tmp_path / "none.sock")))
    with pytest.raises(ServerSelectionTimeoutError, match=r"none\.sock"):
        await database.command("ping")


def test_the_uri_names_the_socket_and_the_database() -> None:
    uri = socket_uri("/tmp/evcsm-double-x/mongodb.sock", "evcsm")  # noqa: S108 - not opened
    assert uri == "mongodb://%2Ftmp%2Fevcsm-double-x%2Fmongodb.sock/evcsm"
    assert socket_of(uri) == ("/tmp/evcsm-double-x/mongodb.sock", "evcsm")  # noqa: S108
    with pytest.raises(ValueError, match="socket"):
        socket_of("mongodb://localhost:27017/evcsm")


def test_the_server_stops_with_its_parent_however_it_dies(tmp_path: Path) -> None:
    """The parent killed with SIGKILL (no cleanup runs): the server sees its standard input
    close and exits; nothing is left listening."""
    script = (
        "from tests.support.mongo_process import DoubleProcess\n"
        "import time\n"
        "server = DoubleProcess()\n"
        "server.start()\n"
        "print(server.pid, server.path, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        pid_text, path = parent.stdout.readline().split()
        pid = int(pid_text)
        assert running(pid)
        probe = socket.socket(socket.AF_UNIX)
        probe.connect(path)
        probe.close()
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + DEADLINE_S
        while running(pid):
            assert time.monotonic() < deadline, f"the server {pid} outlived its parent"
            time.sleep(0.05)
        assert not Path(path).exists()
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def running(pid: int) -> bool:
    """The process exists and has not exited (a zombie waiting for its reaper has)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


async def test_a_large_bulk_write_lets_other_commands_through(database: Database) -> None:
    """The server runs a bulk write's statements in turns: a read sent after it is answered
    before it is done, and its refusals keep their places in the whole batch."""
    sessions = database["sessions"]
    await sessions.create_index([("chargerId", 1)], name="charger", unique=True)
    await sessions.insert_many([{"_id": k, "chargerId": f"CP{k}"} for k in range(2000)])
    answered: list[str] = []

    async def flush() -> None:
        requests = [UpdateOne({"_id": k}, {"$set": {"meterWh": k}}) for k in range(2000)]
        requests[1500] = UpdateOne({"_id": 1500}, {"$set": {"chargerId": "CP0"}})
        with pytest.raises(BulkWriteError) as refused:
            await sessions.bulk_write(requests, ordered=False)
        assert [e["index"] for e in refused.value.details["writeErrors"]] == [1500]
        assert refused.value.details["nMatched"] == 1999
        answered.append("bulk write")

    async def read() -> None:
        assert await sessions.find_one({"_id": 7}) is not None
        answered.append("read")

    async with asyncio.TaskGroup() as group:
        group.create_task(flush(), name="big-bulk-write")
        await asyncio.sleep(0)  # its request is on the wire first
        group.create_task(read(), name="read-meanwhile")
    assert answered == ["read", "bulk write"]
    assert (await database.status()).calls == 4  # the bulk write counted once
    assert await sessions.count_documents({"meterWh": {"$gte": 0}}) == 1999
