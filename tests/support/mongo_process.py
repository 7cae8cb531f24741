"""The driver double's server in a process of its own, reached over a Unix socket as a real
server is reached over the network.

    python -m tests.support.mongo_process --socket /tmp/x/mongodb.sock

serves the double's commands (tests/support/mongo_commands.py) on the socket, one server per
database a command names in `$db`, each command run to its end before the next (a command
from another connection waits). It prints `ready` on its standard output once it listens, and
stops when its standard input closes (its parent stopped it, or died however it died: nothing
is left behind), or on SIGTERM or SIGINT, printing what it served on its standard error.

`DoubleProcess` starts one (in a session of its own, so that a Ctrl-C in the terminal reaches
the parent, which stops the daemon first and then the server) and stops it; `uri` opens it from
the daemon's process (`bench.double`), `database()` from a test or a benchmark.
"""

import argparse
import asyncio
import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from types import TracebackType
from typing import Any

import bson

from tests.support.mongo_commands import INTERNAL_ERROR, Reply, execute, refused
from tests.support.mongo_double import OPTIONS, Database
from tests.support.mongo_server import Server
from tests.support.mongo_wire import MessageTooLarge, Remote, read_message, socket_uri

REPO = Path(__file__).resolve().parents[2]
READY = b"ready\n"
STATEMENTS_AT_ONCE = 25
"""Statements of an `update` run before the commands of other connections get a turn: a server
runs each statement of a bulk write on its own, so a read that comes meanwhile does not wait for
the whole batch."""
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class Servers:
    """One server per database, and what the process served."""

    def __init__(self) -> None:
        self.by_database: defaultdict[str, Server] = defaultdict(Server)
        self.connections = 0

    async def reply(self, message: bytes) -> bytes:
        """The reply to one command message; a malformed one, or a fault of the double, is
        answered with a refusal (and the fault logged), never by dropping the connection."""
        try:
            command = bson.decode(message, codec_options=OPTIONS)
            server = self.by_database[str(command.pop("$db"))]
            if next(iter(command), "") == "update" and len(command["updates"]) > STATEMENTS_AT_ONCE:
                return bson.encode(await in_turns(server, command))
            return bson.encode(execute(server, command))
        except (bson.errors.BSONError, KeyError) as exc:
            return bson.encode(refused(INTERNAL_ERROR, f"malformed command: {exc!r}"))
        except Exception as exc:  # noqa: BLE001 - a fault of the double: answered, and logged
            print(f"driver double's server: {exc!r}", file=sys.stderr, flush=True)
            return bson.encode(refused(INTERNAL_ERROR, f"the driver double failed: {exc!r}"))

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer one connection's commands, one after another, until it closes."""
        self.connections += 1
        try:
            while (message := await read_message(reader)) is not None:
                writer.write(await self.reply(message))
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError, MessageTooLarge):
            pass  # the client went away mid-message: nothing to answer
        finally:
            writer.close()


async def in_turns(server: Server, command: dict[str, Any]) -> Reply:
    """An `update` of many statements run STATEMENTS_AT_ONCE at a time, the event loop turning
    between two (other connections' commands run then); one reply, as the whole command's."""
    statements, ordered = command["updates"], command.get("ordered", True)
    merged: Reply = {"ok": 1, "n": 0, "nModified": 0}
    errors: list[dict[str, Any]] = []
    turns = 0
    for start in range(0, len(statements), STATEMENTS_AT_ONCE):
        if turns:
            await asyncio.sleep(0)
        turns += 1
        part = execute(
            server, {**command, "updates": statements[start : start + STATEMENTS_AT_ONCE]}
        )
        if not part["ok"]:
            return part
        merged["n"] += part["n"]
        merged["nModified"] += part["nModified"]
        errors += [{**e, "index": e["index"] + start} for e in part.get("writeErrors", ())]
        if ordered and errors:
            break
    server.calls -= turns - 1  # one command
    if errors:
        merged["writeErrors"] = errors
    return merged


async def serve(path: str) -> Servers:
    """Serve on `path` until standard input closes or a stop signal comes."""
    servers = Servers()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    stdin = sys.stdin.fileno()
    os.set_blocking(stdin, False)

    def parent_readable() -> None:
        try:
            if not os.read(stdin, 4096):
                stop.set()
        except BlockingIOError:
            pass

    loop.add_reader(stdin, parent_readable)
    listening = await asyncio.start_unix_server(servers.connection, path=path)
    try:
        sys.stdout.buffer.write(READY)
        sys.stdout.flush()
        await stop.wait()
    finally:
        loop.remove_reader(stdin)
        listening.close()
    return servers


def main(argv: list[str] | None = None) -> int:
    """Serve until stopped; then print what was served."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.mongo_process")
    parser.add_argument("--socket", required=True, help="the Unix socket's path")
    options = parser.parse_args(argv)
    try:
        servers = asyncio.run(serve(options.socket))
    finally:
        with contextlib.suppress(FileNotFoundError):
            Path(options.socket).unlink()
    calls = sum(server.calls for server in servers.by_database.values())
    print(
        f"driver double's server: {calls:,} commands on {servers.connections:,} connections,"
        f" {time.process_time():.2f} s of CPU",
        file=sys.stderr,
        flush=True,
    )
    return 0


class DoubleProcess:
    """A driver double's server process on a socket in a folder of its own, from `start()` (or
    `with`) until `stop()`."""

    def __init__(self, *, cpus: frozenset[int] | None = None) -> None:
        self.cpus = cpus
        """The CPUs the server may run on (by default those of the process starting it)."""
        self.folder = Path(tempfile.mkdtemp(prefix="evcsm-double-"))
        self.path = str(self.folder / "mongodb.sock")
        self.log = self.folder / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def uri(self, database: str = "evcsm") -> str:
        """The `mongodb://` URI `bench.double` opens `MongoStore` on this server with."""
        return socket_uri(self.path, database)

    def database(self, name: str = "evcsm") -> Database:
        """A client of database `name` on this server (for the running event loop)."""
        return Database(link=Remote(self.path), name=name)

    @property
    def pid(self) -> int:
        """The server's process id."""
        if self.proc is None:
            raise RuntimeError("the driver double's server is not running")
        return self.proc.pid

    def start(self) -> None:
        """Start the server and wait until it listens."""
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.support.mongo_process", "--socket", self.path],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=REPO,
                start_new_session=True,
            )
        if self.cpus:
            os.sched_setaffinity(self.proc.pid, self.cpus)
        if not self._ready():
            self.stop()
            raise RuntimeError(f"the driver double's server did not start: {self.logged()}")

    def _ready(self) -> bool:
        if self.proc is None or self.proc.stdout is None:
            return False
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            if not selector.select(START_TIMEOUT_S):
                return False
        return self.proc.stdout.readline() == READY

    def stop(self) -> int | None:
        """Stop the server (its standard input closed; killed if it lingers); its exit code."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        try:
            if proc.stdin is not None:
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.close()
            try:
                return proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                return proc.wait()
        finally:
            if proc.stdout is not None:
                proc.stdout.close()

    def logged(self) -> str:
        """What the server wrote on its standard error."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def __enter__(self) -> "DoubleProcess":
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the server and remove its folder (the socket and the log)."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
