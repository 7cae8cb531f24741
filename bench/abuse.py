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
from pathlib import Path

import httpx

from tests.support.broker import Mosquitto, free_port
from tests.support.process import DaemonProcess, daemon_process, unreachable_mongodb

TOKEN = "bench-token-0123456789"  # noqa: S105 - a throw-away token for a local daemon
MB = 1_000_000


def memory_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, in kB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


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


def bodies() -> list[str]:
    rows = []
    for token, chunked in ((False, False), (True, False), (True, True)):
        with daemon_process(EVCSM_API_TOKEN=TOKEN) as daemon:
            daemon.wait_until("/api/chargers", 200)
            before = memory_kb(daemon.process.pid)[0]
            answer, sent = send_body(daemon.http_port, 300 * MB, token=token, chunked=chunked)
            after, peak = memory_kb(daemon.process.pid)
            kind = ("chunked" if chunked else "Content-Length") + (", token" if token else "")
            rows.append(
                f"| 300 MB POST ({kind}) | {answer} | {sent / MB:.1f} MB"
                f" | {before / 1000:.0f} → {after / 1000:.0f} MB (peak {peak / 1000:.0f}) |"
            )
    return rows


def slow_clients(count: int, hold: float) -> list[str]:
    rows = []
    with daemon_process() as daemon:
        daemon.wait_until("/api/chargers", 200)
        before = memory_kb(daemon.process.pid)[0]
        held = []
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", daemon.http_port), timeout=5)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            held.append(sock)
        started = time.monotonic()
        served, worst = 0, 0.0
        while time.monotonic() - started < hold:
            asked = time.monotonic()
            try:
                if httpx.get(f"{daemon.url}/healthz", timeout=5).status_code == 200:
                    served += 1
                    worst = max(worst, time.monotonic() - asked)
            except httpx.TransportError:
                pass
            time.sleep(max(0.0, 1.0 - (time.monotonic() - asked)))
        still_open = sum(1 for sock in held if _open(sock))
        after, peak = memory_kb(daemon.process.pid)
        for sock in held:
            sock.close()
        rows.append(
            f"| {count} half-sent request heads, {hold:.0f} s | {still_open} still open at the end"
            f" | {served} ordinary requests served, slowest {worst * 1000:.0f} ms"
            f" | {before / 1000:.0f} → {after / 1000:.0f} MB (peak {peak / 1000:.0f}) |"
        )
    return rows


def _open(sock: socket.socket) -> bool:
    sock.setblocking(False)  # noqa: FBT003 - the socket API takes a positional flag
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def timed_stop(daemon: DaemonProcess, sig: signal.Signals) -> str:
    try:
        took = daemon.stop(sig)
    except AssertionError:
        return "still running after 10 s (killed)"
    return f"{took:.2f} s, exit {daemon.process.returncode}"


def signals() -> list[str]:
    rows = []

    def database_unreachable(sig: signal.Signals) -> str:
        with daemon_process(EVCSM_MONGODB_URI=unreachable_mongodb()) as daemon:
            try:
                daemon.wait_until("/healthz", 200)
            except AssertionError:
                return "/healthz never answered; " + timed_stop(daemon, sig)
            time.sleep(3)
            return timed_stop(daemon, sig)

    def broker_unreachable() -> str:
        with daemon_process(EVCSM_MQTT_URL=f"mqtt://127.0.0.1:{free_port()}") as daemon:
            daemon.wait_until("/api/chargers", 200)
            return timed_stop(daemon, signal.SIGTERM)

    def running(*, freeze: bool = False, again: bool = False) -> str:
        with Mosquitto() as broker, daemon_process(EVCSM_MQTT_URL=broker.url) as daemon:
            daemon.wait_until("/readyz", 200)
            httpx.post(f"{daemon.url}/api/chargers/CP1/start", timeout=10)
            process = broker._proc  # the benchmark freezes the broker it started
            if process is None:
                raise RuntimeError("the broker is not running")
            if freeze:
                process.send_signal(signal.SIGSTOP)
            try:
                if again:
                    daemon.process.send_signal(signal.SIGTERM)
                    time.sleep(0.5)
                return timed_stop(daemon, signal.SIGTERM)
            finally:
                process.send_signal(signal.SIGCONT)

    phases: list[tuple[str, Callable[[], str]]] = [
        ("database unreachable at start, SIGTERM", lambda: database_unreachable(signal.SIGTERM)),
        ("database unreachable at start, SIGINT", lambda: database_unreachable(signal.SIGINT)),
        ("broker unreachable, SIGTERM", broker_unreachable),
        ("running, one session charging, SIGTERM", running),
        ("running, broker frozen (SIGSTOP), SIGTERM", lambda: running(freeze=True)),
        (
            "broker frozen, second SIGTERM 0.5 s into the shutdown",
            lambda: running(freeze=True, again=True),
        ),
    ]
    for name, measure in phases:
        rows.append(f"| {name} | {measure()} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=1000, help="half-open connections")
    parser.add_argument("--hold", type=float, default=20.0, help="seconds to hold them")
    args = parser.parse_args()
    print("| Request | Answer | Sent before the daemon closed | Memory (RSS) |")
    print("|---|---|---|---|")
    print("\n".join(bodies()))
    print("\n| Slow clients | Connections | Meanwhile | Memory (RSS) |")
    print("|---|---|---|---|")
    print("\n".join(slow_clients(args.slow, args.hold)))
    print("\n| Phase | Signal to exit |")
    print("|---|---|")
    print("\n".join(signals()))


if __name__ == "__main__":
    main()
