"""The daemon's MongoDB store on the driver double (tests/support/mongo_double.py), for benchmarks.

The double's server runs in a process of its own (`tests.support.mongo_process.DoubleProcess`),
reached over a Unix socket, as a real server is reached over the network: the daemon's event
loop waits on the socket while the server works, and the server's CPU is its own process's.
The benchmark starts it (beside the broker, off the daemon's CPU when the daemon is pinned),
seeds it, points the daemon at it, and stops it after the daemon.

`on_double()` makes the `mongodb://` URIs of such a server (`DoubleProcess.uri()`) open
`MongoStore` on the double in this process, as `bench.fleet` runs the daemon. `python -m
bench.double` runs the daemon's own entry point as a process of its own with that opener, on
the server `EVCSM_STORE_URI` names, as `bench.history --store mongodb-double` starts it after
`seeded()` started and filled a server; every argument and the environment go to the daemon.
"""

import asyncio
import contextlib
import sys
import time
from collections.abc import Iterator

from evcsm_daemon import main as daemon_main
from evcsm_daemon.store import SessionStore, connect
from evcsm_daemon.store.mongo import MongoStore

from bench.seed import into_mongo_double
from bench.store import history
from tests.support.mongo_double import Database
from tests.support.mongo_process import DoubleProcess
from tests.support.mongo_wire import Remote, socket_of


def open_double(uri: str, _timeout_ms: int) -> SessionStore:
    """`MongoStore` on the driver double's server at the socket `uri` names."""
    path, name = socket_of(uri)
    database = Database(link=Remote(path), name=name)
    return MongoStore(database, close=database.close)


@contextlib.contextmanager
def on_double() -> Iterator[None]:
    """`mongodb://` URIs open `MongoStore` on a driver double's server while this context lasts."""
    opener = connect.BACKENDS["mongodb"]
    connect.BACKENDS["mongodb"] = open_double
    try:
        yield
    finally:
        connect.BACKENDS["mongodb"] = opener


@contextlib.contextmanager
def seeded(count: int) -> Iterator[DoubleProcess]:
    """A driver double's server process holding `count` sessions of `bench.store`'s history,
    as the store writes them; stopped when the context ends."""
    with DoubleProcess() as server:

        async def seed() -> None:
            database = server.database()
            try:
                sessions = (stopped or started for started, stopped in history(count))
                await into_mongo_double(database, sessions)
            finally:
                await database.close()

        began = time.perf_counter()
        asyncio.run(seed())
        print(
            f"double seeded with {count:,} sessions in {time.perf_counter() - began:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        yield server


def main(argv: list[str] | None = None) -> int:
    """Run the daemon on the double's server named by EVCSM_STORE_URI until it stops."""
    with on_double():
        return daemon_main.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
