"""The daemon's MongoDB store on the driver double (tests/support/mongo_double.py), for benchmarks.

`on_double(server)` makes `mongodb://` URIs open `MongoStore` on the double's `server` in this
process, as `bench.fleet` runs the daemon. `python -m bench.double` runs the daemon's own entry
point as a process of its own on a double seeded first with `--sessions` sessions (the history of
`bench.store`: 100 chargers, one a minute each, each charger's newest still charging), as
`bench.history --store mongodb-double` starts it; every other argument and the environment go to
the daemon. A MongoDB URI in `EVCSM_STORE_URI` is replaced by the double's.
"""

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator

from evcsm_daemon import main as daemon_main
from evcsm_daemon.store import connect
from evcsm_daemon.store.mongo import MongoStore

from bench.seed import into_mongo_double
from bench.store import history
from tests.support.mongo_double import Database, Server

URI = "mongodb://double/evcsm"


@contextlib.contextmanager
def on_double(server: Server) -> Iterator[str]:
    """A URI that opens `MongoStore` on the double's `server`, while this context lasts."""
    opener = connect.BACKENDS["mongodb"]
    connect.BACKENDS["mongodb"] = lambda _uri, _ms: MongoStore(Database(server), close=lambda: None)
    try:
        yield URI
    finally:
        connect.BACKENDS["mongodb"] = opener


def seeded(count: int) -> Server:
    """A double holding `count` sessions of `bench.store`'s history, as the store writes them."""
    server = Server()
    into_mongo_double(server, (stopped or started for started, stopped in history(count)))
    return server


def main(argv: list[str] | None = None) -> int:
    """Seed the double, then run the daemon on it until it stops."""
    parser = argparse.ArgumentParser(prog="python -m bench.double", description=__doc__)
    parser.add_argument("--sessions", type=int, default=0, help="sessions stored first")
    options, rest = parser.parse_known_args(argv)
    began = time.perf_counter()
    server = seeded(options.sessions)
    print(
        f"double seeded with {options.sessions:,} sessions in {time.perf_counter() - began:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    with on_double(server) as uri:
        os.environ["EVCSM_STORE_URI"] = uri
        return daemon_main.main(rest)


if __name__ == "__main__":
    raise SystemExit(main())
