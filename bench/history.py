"""History benchmark: from `h` on the dashboard to the first page of history on screen.

    uv run python -m bench.history --sessions 100000 --runs 5 [--store mongodb-double]

End to end, as an operator sees it: a SQLite file with `--sessions` sessions on 100 chargers
(`bench.store`'s history: one a minute per charger, each charger's newest still charging), the
real daemon on it (`evcsm-daemon`, in its own process), a real Mosquitto, and the real
`evcsm-tui` in tmux at 120x40. With `--store mongodb-double` the daemon's process runs its
MongoDB store on the driver double instead (`bench.double`), whose server, a process of its own
on a Unix socket, is seeded with the same sessions before the daemon starts and stopped after
it. Each run starts a fresh dashboard, waits for the daemon to show
online, presses `h` and polls `tmux capture-pane` until the totals line names the stored total
(`1000 sessions (of 100000)`): the dashboard has asked the daemon, decoded its page of 1,000,
sorted it and drawn the table. The daemon's share alone, a page among 100,000 from the store, is
in `bench.store` (0.1-25 ms).

`--tui-pythonpath DIR:DIR` runs another checkout's dashboard, as in `bench.dashboard`.
"""

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from evcsm_daemon.store.sqlite import SqliteStore

from bench.dashboard import EVCSM_TUI, BenchFailed, Pane, wait_for
from bench.double import seeded
from bench.machine import Machine
from bench.stats import Spread
from bench.store import CHARGERS, fill, history, opened
from tests.support.broker import Mosquitto, free_port, wait_for_port

EVCSM_DAEMON = Path(sys.executable).parent / "evcsm-daemon"
ONLINE = re.compile(r"daemon online")
OPEN_TIMEOUT_S = 30.0
START_TIMEOUT_S = 180.0
"""Until the daemon listens."""


def sqlite_file(folder: Path, count: int) -> Path:
    """A SQLite store holding `count` sessions."""

    async def build() -> Path:
        async with opened("sqlite", folder) as store:
            if not isinstance(store, SqliteStore):
                raise BenchFailed("bench.store opened another store than SQLite")
            await fill(store, history(count))
            return Path(store.path)

    return asyncio.run(build())


def start_daemon(
    command: list[str], uri: str, broker: Mosquitto, log: Path
) -> subprocess.Popen[bytes]:
    """The daemon `command` on the store at `uri`, with the store's 100 chargers."""
    fleet = ",".join(f"CP{k:03d}:22" for k in range(CHARGERS))
    port = free_port()
    env = {
        **os.environ,
        "EVCSM_MQTT_URL": broker.url,
        "EVCSM_STORE_URI": uri,
        "EVCSM_HTTP_ADDR": f"127.0.0.1:{port}",
        "EVCSM_CHARGERS": fleet,
    }
    with log.open("ab") as out:
        daemon = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout=START_TIMEOUT_S)
    except BaseException:
        stop(daemon)
        raise
    return daemon


def stop(daemon: subprocess.Popen[bytes]) -> None:
    """Stop the daemon (SIGTERM, then SIGKILL if it lingers)."""
    daemon.terminate()
    try:
        daemon.wait(timeout=15)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()


def daemon_on(
    store: str, work: Path, sessions: int, stack: contextlib.ExitStack
) -> tuple[list[str], str]:
    """The daemon's command and store URI for `store`, holding `sessions` sessions (the
    double's server process is stopped when `stack` closes)."""
    if store == "sqlite":
        return [str(EVCSM_DAEMON)], f"sqlite:{sqlite_file(work, sessions)}"
    server = stack.enter_context(seeded(sessions))
    return [sys.executable, "-m", "bench.double"], server.uri()


def time_open(command: str, total: int) -> float:
    """Seconds from `h` to the history's first page on screen, in a fresh dashboard."""
    pane = Pane(command, 120, 40)
    try:
        wait_for(pane, "the daemon online", ONLINE, 60)
        time.sleep(1.0)
        shown = f"(of {total})"
        pressed = time.perf_counter()
        pane.press("h")
        while time.perf_counter() - pressed < OPEN_TIMEOUT_S:
            if shown in pane.screen():
                return time.perf_counter() - pressed
        raise BenchFailed(f"the history did not show {shown} within {OPEN_TIMEOUT_S:.0f} s")
    finally:
        pane.close()


def main(argv: list[str] | None = None) -> int:
    """Build the store, start the daemon, open the history `--runs` times."""
    parser = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--store", choices=("sqlite", "mongodb-double"), default="sqlite")
    parser.add_argument("--tui-pythonpath", default="", help="run another checkout's dashboard")
    options = parser.parse_args(argv)
    print(Machine.here().describe())
    work = Path(tempfile.mkdtemp(prefix="evcsm-bench-history-"))
    broker = Mosquitto()
    daemon: subprocess.Popen[bytes] | None = None
    stack = contextlib.ExitStack()
    try:
        daemon_command, uri = daemon_on(options.store, work, options.sessions, stack)
        broker.start()
        daemon = start_daemon(daemon_command, uri, broker, work / "daemon.log")
        env = f"PYTHONPATH={options.tui_pythonpath} " if options.tui_pythonpath else ""
        command = f"exec env {env}{EVCSM_TUI} --mqtt-url {broker.url} --log-file {work / 'tui.log'}"
        timings = [time_open(command, options.sessions) for _ in range(options.runs)]
    except BenchFailed as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    finally:
        try:
            if daemon is not None:
                stop(daemon)
        finally:
            stack.close()  # the double's server, after the daemon
            broker.stop()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(broker.dir, ignore_errors=True)
    spread = Spread.of(timings)
    print(
        f"history opened with {options.sessions:,} stored sessions on {options.store} (its first"
        f" page of 1,000 drawn): p50 / p99 / max {spread.ms()} ms over {spread.count} fresh"
        " dashboards"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
