"""The real `evcsm-daemon` program in a subprocess, for start-up, signal and socket tests."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.broker import free_port

PROGRAM = Path(sys.executable).with_name("evcsm-daemon")
START_DEADLINE_S = 60.0
"""Generous: the interpreter alone takes seconds to import everything on a busy machine."""
STOP_DEADLINE_S = 10.0
"""What the daemon promises: SIGTERM or SIGINT ends it within 10 s, whatever it is doing."""


def unreachable_mongodb() -> str:
    """A MongoDB URI where nothing listens."""
    return f"mongodb://127.0.0.1:{free_port()}/evcsm"


@dataclass
class DaemonProcess:
    """A running `evcsm-daemon`: its process, its REST address, its output so far."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        """The REST API's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        """Everything the daemon printed so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def get(self, path: str) -> httpx.Response:
        """GET `path` from the daemon."""
        return httpx.get(f"{self.url}{path}", timeout=10)

    def wait_until(self, path: str, status: int) -> httpx.Response:
        """Poll `path` until it answers `status` (or fail after START_DEADLINE_S)."""
        deadline = time.monotonic() + START_DEADLINE_S
        last: object = None
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"the daemon exited early:\n{self.output()}"
            try:
                response = self.get(path)
            except httpx.TransportError as exc:
                last = exc
            else:
                if response.status_code == status:
                    return response
                last = response
            time.sleep(0.1)
        raise AssertionError(f"{path} never answered {status} (last: {last!r}):\n{self.output()}")

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> float:
        """Send `sig`, wait for the exit (at most STOP_DEADLINE_S) and return how long it took."""
        started = time.monotonic()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"still running {STOP_DEADLINE_S:.0f} s after {sig.name}:\n{self.output()}"
            ) from None
        return time.monotonic() - started


@contextmanager
def daemon_process(**env: str) -> Iterator[DaemonProcess]:
    """`evcsm-daemon` with the EVCSM_ settings given (memory store and a free port by default)."""
    port = free_port()
    settings = {
        "EVCSM_MONGODB_URI": "memory",
        "EVCSM_HTTP_ADDR": f"127.0.0.1:{port}",
        "EVCSM_MQTT_URL": f"mqtt://127.0.0.1:{free_port()}",
        "EVCSM_CHARGERS": "CP1:22,CP2:11",
        **env,
    }
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EVCSM_")}
    with tempfile.TemporaryDirectory(prefix="evcsm-daemon-") as folder:
        log = Path(folder) / "daemon.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(PROGRAM)], env={**environment, **settings}, stdout=out, stderr=out
            )
        try:
            yield DaemonProcess(proc, port, log)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
