"""A real Mosquitto on a free loopback port, for tests and benchmarks."""

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Self

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"

OPEN_CONF = """\
listener {port} 127.0.0.1
allow_anonymous true
set_tcp_nodelay true
max_queued_messages 100000
max_packet_size 1048576
persistence false
log_dest stdout
log_type error
log_type warning
"""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Block until something accepts connections on the loopback port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class Mosquitto:
    """Runs `mosquitto -c CONF` with `{port}` in the config text filled in; restartable."""

    def __init__(self, conf_template: str = OPEN_CONF, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="evcsm-mosquitto-"))
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(conf_template.format(port=self.port), encoding="utf-8")
        self.log = self.dir / "mosquitto.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The broker's address as an mqtt:// URL."""
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the broker and wait until it accepts connections."""
        if not Path(MOSQUITTO).exists():
            raise RuntimeError("mosquitto is not installed: apt-get install mosquitto")
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_for_port(self.port)
        except TimeoutError as exc:
            self.stop()
            raise RuntimeError(f"mosquitto did not start: {self.log.read_text()}") from exc

    @property
    def pid(self) -> int:
        """The broker's process id, while it runs."""
        if self._proc is None:
            raise RuntimeError("the broker is not running")
        return self._proc.pid

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """The broker stops answering (SIGSTOP) but keeps its connections, until the block ends."""
        if self._proc is None:
            raise RuntimeError("the broker is not running")
        process = self._proc
        process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """Kill the broker with SIGKILL, as a crash would: nothing is saved, no will is sent
        for anyone. `start()` brings it back on the same port."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def stop(self) -> None:
        """Stop the broker (clients see their connection drop)."""
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
