"""What hostile or broken HTTP clients and signals do to the real `evcsm-daemon` process.

    uv run python -m bench.abuse                 # every scenario, a Markdown table on stdout
    uv run python -m bench.abuse --slow 1000 --hold 60

Each scenario starts its own daemon (in-process store; a real Mosquitto where it needs one) on
free loopback ports and reads the daemon's memory from /proc (RSS now and its peak, VmHWM):

- bodies: a 300 MB POST declared by Content-Length, without and with the token, and a 300 MB
  chunked POST with the token; what came back and the memory before and after;
- slow clients: `--slow` connections that send half a request head and nothing more, held
  `--hold` seconds, while one ordinary request a second is timed;
- signals: how long SIGTERM (or SIGINT) takes to end the process in each phase.
"""

import argparse
import signal
import socket
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import httpx

from bench.proc import peak_rss_mib, rss_mib
from tests.support.broker import Mosquitto, free_port
from tests.support.process import DaemonProcess, daemon_process, unreachable_mongodb

TOKEN = "bench-token-0123456789"  # noqa: S105 - a throw-away token for a local daemon
MB = 1_000_000
BODY_BYTES = 300 * MB


@dataclass(frozen=True, slots=True)
class BodyResult:
    """One oversized POST: what came back, how much the daemon took, its memory."""

    token: bool
    chunked: bool
    answer: str
    """The first line of the answer, or what the socket said."""
    sent: int
    rss_before_mib: float
    rss_after_mib: float
    rss_peak_mib: float
    alive: bool

    @property
    def kind(self) -> str:
        """How the body was declared, and whether the token was sent."""
        return ("chunked" if self.chunked else "Content-Length") + (", token" if self.token else "")

    @property
    def expected(self) -> str:
        """The status the daemon must answer: 401 before the body without the token, else 413."""
        return "413" if self.token else "401"


@dataclass(frozen=True, slots=True)
class SlowResult:
    """Half-sent request heads held open while ordinary requests are timed."""

    count: int
    hold_s: float
    still_open: int
    asked: int
    served: int
    worst_s: float
    rss_before_mib: float
    rss_after_mib: float
    rss_peak_mib: float
    alive: bool


@dataclass(frozen=True, slots=True)
class SignalResult:
    """How long a signal took to end the process in one phase (None: still running at 10 s)."""

    phase: str
    seconds: float | None
    exit_code: int | None
    note: str = ""

    def describe(self) -> str:
        """What the table shows."""
        took = (
            "still running after 10 s (killed)"
            if self.seconds is None
            else f"{self.seconds:.2f} s, exit {self.exit_code}"
        )
        return f"{self.note}; {took}" if self.note else took


def send_body(port: int, size: int, *, token: bool, chunked: bool) -> tuple[str, int]:
    """POST `size` bytes to a stop route; (first line of the answer, bytes the daemon took)."""
    head = ["POST /api/chargers/CP1/stop HTTP/1.1", "Host: 127.0.0.1"]
    head += ["Content-Type: application/json"]
    head += [f"Authorization: Bearer {TOKEN}"] if token else []
    head += ["Transfer-Encoding: chunked"] if chunked else [f"Content-Length: {size}"]
    chunk = b"x" * (1 << 20)
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        try:
            while sent < size:
                piece = chunk[: size - sent]
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                sent += len(piece)
        except OSError:
            pass
        try:
            answer = sock.recv(200).split(b"\r\n", 1)[0].decode() or "(closed)"
        except OSError as exc:
            answer = f"({exc.strerror})"
    return answer, sent


def bodies(size: int = BODY_BYTES) -> list[BodyResult]:
    """A `size`-byte POST declared by Content-Length, without and with the token, and chunked."""
    results = []
    for token, chunked in ((False, False), (True, False), (True, True)):
        with daemon_process(EVCSM_API_TOKEN=TOKEN) as daemon:
            daemon.wait_until("/api/chargers", 200)
            pid = daemon.process.pid
            before = rss_mib(pid)
            answer, sent = send_body(daemon.http_port, size, token=token, chunked=chunked)
            alive = daemon.process.poll() is None
            after, peak = (rss_mib(pid), peak_rss_mib(pid)) if alive else (0.0, 0.0)
            results.append(BodyResult(token, chunked, answer, sent, before, after, peak, alive))
    return results


def slow_clients(count: int, hold: float) -> SlowResult:
    """`count` connections that send half a request head, held `hold` s; one request a second."""
    with daemon_process() as daemon:
        daemon.wait_until("/api/chargers", 200)
        pid = daemon.process.pid
        before = rss_mib(pid)
        held = []
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", daemon.http_port), timeout=5)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            held.append(sock)
        started = time.monotonic()
        asked, served, worst = 0, 0, 0.0
        while time.monotonic() - started < hold:
            sent = time.monotonic()
            asked += 1
            try:
                if httpx.get(f"{daemon.url}/healthz", timeout=5).status_code == 200:
                    served += 1
                    worst = max(worst, time.monotonic() - sent)
            except httpx.TransportError:
                pass
            time.sleep(max(0.0, 1.0 - (time.monotonic() - sent)))
        still_open = sum(1 for sock in held if _open(sock))
        alive = daemon.process.poll() is None
        after, peak = (rss_mib(pid), peak_rss_mib(pid)) if alive else (0.0, 0.0)
        for sock in held:
            sock.close()
        return SlowResult(count, hold, still_open, asked, served, worst, before, after, peak, alive)


def _open(sock: socket.socket) -> bool:
    sock.setblocking(False)  # noqa: FBT003 - the socket API takes a positional flag
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def timed_stop(
    phase: str, daemon: DaemonProcess, sig: signal.Signals, note: str = ""
) -> SignalResult:
    """Send `sig` and time the exit."""
    try:
        took = daemon.stop(sig)
    except AssertionError:
        return SignalResult(phase, None, None, note)
    return SignalResult(phase, took, daemon.process.returncode, note)


def signals() -> list[SignalResult]:
    """SIGTERM (and SIGINT) in each phase of the daemon's life."""

    def database_unreachable(phase: str, sig: signal.Signals) -> SignalResult:
        with daemon_process(EVCSM_MONGODB_URI=unreachable_mongodb()) as daemon:
            try:
                daemon.wait_until("/healthz", 200)
            except AssertionError:
                return timed_stop(phase, daemon, sig, "/healthz never answered")
            time.sleep(3)
            return timed_stop(phase, daemon, sig)

    def broker_unreachable(phase: str) -> SignalResult:
        with daemon_process(EVCSM_MQTT_URL=f"mqtt://127.0.0.1:{free_port()}") as daemon:
            daemon.wait_until("/api/chargers", 200)
            return timed_stop(phase, daemon, signal.SIGTERM)

    def running(phase: str, *, freeze: bool = False, again: bool = False) -> SignalResult:
        with Mosquitto() as broker, daemon_process(EVCSM_MQTT_URL=broker.url) as daemon:
            daemon.wait_until("/readyz", 200)
            httpx.post(f"{daemon.url}/api/chargers/CP1/start", timeout=10)
            with broker.frozen() if freeze else nullcontext():
                if again:
                    daemon.process.send_signal(signal.SIGTERM)
                    time.sleep(0.5)
                return timed_stop(phase, daemon, signal.SIGTERM)

    phases: list[tuple[str, Callable[[str], SignalResult]]] = [
        (
            "database unreachable at start, SIGTERM",
            lambda phase: database_unreachable(phase, signal.SIGTERM),
        ),
        (
            "database unreachable at start, SIGINT",
            lambda phase: database_unreachable(phase, signal.SIGINT),
        ),
        ("broker unreachable, SIGTERM", broker_unreachable),
        ("running, one session charging, SIGTERM", running),
        ("running, broker frozen (SIGSTOP), SIGTERM", lambda phase: running(phase, freeze=True)),
        (
            "broker frozen, second SIGTERM 0.5 s into the shutdown",
            lambda phase: running(phase, freeze=True, again=True),
        ),
    ]
    return [measure(name) for name, measure in phases]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=1000, help="half-open connections")
    parser.add_argument("--hold", type=float, default=20.0, help="seconds to hold them")
    args = parser.parse_args()
    print("| Request | Answer | Sent before the daemon closed | Memory (RSS) |")
    print("|---|---|---|---|")
    for body in bodies():
        print(
            f"| {BODY_BYTES // MB} MB POST ({body.kind}) | {body.answer}"
            f" | {body.sent / MB:.1f} MB | {body.rss_before_mib:.0f} → {body.rss_after_mib:.0f}"
            f" MiB (peak {body.rss_peak_mib:.0f}) |"
        )
    slow = slow_clients(args.slow, args.hold)
    print("\n| Slow clients | Connections | Meanwhile | Memory (RSS) |")
    print("|---|---|---|---|")
    print(
        f"| {slow.count} half-sent request heads, {slow.hold_s:.0f} s"
        f" | {slow.still_open} still open at the end"
        f" | {slow.served} of {slow.asked} ordinary requests served,"
        f" slowest {slow.worst_s * 1000:.0f} ms"
        f" | {slow.rss_before_mib:.0f} → {slow.rss_after_mib:.0f} MiB"
        f" (peak {slow.rss_peak_mib:.0f}) |"
    )
    print("\n| Phase | Signal to exit |")
    print("|---|---|")
    for result in signals():
        print(f"| {result.phase} | {result.describe()} |")


if __name__ == "__main__":
    main()
