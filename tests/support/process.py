"""The real daemon as a separate process (`python -m evcsm_daemon.main`), for crash, start-up,
signal and socket tests."""

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support.broker import free_port

STARTUP_S = 60.0
STOP_DEADLINE_S = 10.0
"""What the daemon promises: SIGTERM or SIGINT ends it within 10 s, whatever it is doing."""


async def eventually(what: str, check: Callable[[], Awaitable[Any]], within: float = 30.0) -> Any:
    """Poll `check` until it returns something truthy, for up to `within` seconds."""
    async with asyncio.timeout(within):
        while True:
            if found := await check():
                return found
            await asyncio.sleep(0.05)
    raise AssertionError(what)  # pragma: no cover - the timeout raises first


class DaemonProcess:
    """`evcsm-daemon` in a process of its own, configured by environment, its log in a file."""

    def __init__(self, **settings: str) -> None:
        self.http_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("EVCSM_")}
        self.env |= {"EVCSM_HTTP_ADDR": f"127.0.0.1:{self.http_port}"} | settings
        self.log = Path(tempfile.mkstemp(prefix="evcsm-daemon-", suffix=".log")[1])
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        """Start the process."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "evcsm_daemon.main"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def start(self) -> None:
        """Start it and wait until /readyz answers 200."""
        self.spawn()

        async def ready() -> bool:
            assert self.proc is not None
            assert self.proc.poll() is None, f"the daemon exited:\n{self.output()}"
            try:
                async with httpx.AsyncClient(timeout=5) as client:
                    return (await client.get(f"{self.url}/readyz")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(f"not ready:\n{self.output()}", ready, STARTUP_S)

    def output(self) -> str:
        """What it logged so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> int:
        """Send `sig` and wait for the process to end; its exit code."""
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)

    @property
    def process(self) -> subprocess.Popen[bytes]:
        """The process, once spawned."""
        if self.proc is None:
            raise RuntimeError("the daemon was not started")
        return self.proc

    def get(self, path: str) -> httpx.Response:
        """GET `path` from the daemon."""
        return httpx.get(f"{self.url}{path}", timeout=10)

    def wait_until(self, path: str, status: int) -> httpx.Response:
        """Poll `path` until it answers `status` (or fail after STARTUP_S)."""
        deadline = time.monotonic() + STARTUP_S
        last: object = None
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the daemon exited early:\n{self.output()}"
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
        self.process.send_signal(sig)
        try:
            self.process.wait(STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"still running {STOP_DEADLINE_S:.0f} s after {sig.name}:\n{self.output()}"
            ) from None
        return time.monotonic() - started

    def close(self) -> None:
        """Kill it if it still runs; remove the log."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.unlink(missing_ok=True)


def unreachable_mongodb() -> str:
    """A MongoDB URI where nothing listens."""
    return f"mongodb://127.0.0.1:{free_port()}/evcsm"


@contextmanager
def daemon_process(**settings: str) -> Iterator[DaemonProcess]:
    """A started daemon with the EVCSM_ settings given (memory store, no broker by default)."""
    daemon = DaemonProcess(
        **{
            "EVCSM_MONGODB_URI": "memory",
            "EVCSM_MQTT_URL": f"mqtt://127.0.0.1:{free_port()}",
            "EVCSM_CHARGERS": "CP1:22,CP2:11",
            **settings,
        }
    )
    daemon.spawn()
    try:
        yield daemon
    finally:
        daemon.close()
