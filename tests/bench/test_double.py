"""bench/double.py runs the daemon's entry point on a seeded driver double's server process, as
`bench.history --store mongodb-double` starts them: this keeps it from rotting as the daemon
changes."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.double import seeded
from tests.support.broker import Mosquitto, free_port

pytestmark = pytest.mark.broker

REPO = Path(__file__).resolve().parents[2]
DEADLINE_S = 120.0


def test_the_daemon_serves_the_history_seeded_into_the_double(
    broker: Mosquitto, tmp_path: Path
) -> None:
    port = free_port()
    with seeded(300) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EVCSM_")} | {
            "EVCSM_HTTP_ADDR": f"127.0.0.1:{port}",
            "EVCSM_MQTT_URL": broker.url,
            "EVCSM_STORE_URI": server.uri(),
            "EVCSM_CHARGERS": ",".join(f"CP{k:03d}:22" for k in range(100)),
        }
        run_daemon(env, port, tmp_path / "daemon.log")
        assert server.stop() == 0  # after the daemon, as the benchmark stops them
        assert re.search(r"server: [1-9][\d,]* commands", server.logged()), server.logged()


def run_daemon(env: dict[str, str], port: int, log: Path) -> None:
    """`python -m bench.double` serves the seeded history, and stops on SIGTERM."""
    with log.open("ab") as out:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "bench.double"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        stopped = wait_for_page(daemon, port, log, {"status": "Stopped", "limit": "5"})
        assert stopped["total"] == 200  # bench.store's history: each charger's newest charges
        starts = [session["startTime"] for session in stopped["items"]]
        assert len(starts) == 5
        assert starts == sorted(starts, reverse=True)
        everything = httpx.get(f"http://127.0.0.1:{port}/api/sessions", timeout=10).json()
        assert everything["total"] == 300
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0, log.read_text()
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()


def wait_for_page(
    daemon: subprocess.Popen[bytes], port: int, log: Path, params: dict[str, str]
) -> dict[str, Any]:
    """The first page the daemon answers, once it is up."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        assert daemon.poll() is None, log.read_text()
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/api/sessions", params=params, timeout=10)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        if response.status_code == 200:
            page: dict[str, Any] = response.json()
            return page
        time.sleep(0.2)
    raise AssertionError(f"no page within {DEADLINE_S:.0f} s:\n{log.read_text()}")
