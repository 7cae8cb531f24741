"""Dashboard benchmark: the real `evcsm-tui` in tmux at 120x40, watching N chargers charging.

    uv run python -m bench.dashboard --chargers 500,2000,5000 --seconds 30

For each N it starts a real Mosquitto (as `./dev up` configures it: `max_queued_messages` at its
default of 1000), a publisher process that plays a fleet of N charging sessions exactly as the
daemon publishes them (`bench.publisher`: retained states, then every second the tick's
readings, `--stream fleet` on `evcsm/fleet/updates` or `--stream session` one message per session
on `session/updates`), and the dashboard in a tmux pane. Over `--seconds` it measures:

- **CPU** and **RSS** of the dashboard's process, from /proc (CPU in % of one core);
- **key → screen**: every `--key-every` seconds it sends `j` and polls `tmux capture-pane` until
  the detail panel names the next charger;
- **figure age**: on every capture, for each row on screen, how long before the capture the kWh
  shown was read (each session's energy is a function of time, so a figure tells its own time;
  with readings once a second a current figure is 0 to ~1.2 s old);
- **dropped**: messages the broker dropped for a slow subscriber (`$SYS/.../dropped`).

`--tui-pythonpath DIR:DIR` runs another checkout's dashboard (its `tui` and `shared` folders)
with this environment, to measure a former version against the same fleet.
"""

import argparse
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.machine import Machine
from bench.publisher import Fleet, run
from bench.stats import Spread, table
from tests.support.broker import Mosquitto

BROKER_CONF = """\
listener {port} 127.0.0.1
allow_anonymous true
set_tcp_nodelay true
persistence false
sys_interval 1
log_dest stdout
log_type error
log_type warning
"""
"""`./dev up`'s broker, with $SYS counters every second."""
EVCSM_TUI = Path(sys.executable).parent / "evcsm-tui"
TITLE = re.compile(r"╭─+ (CP\d{5}) ·")
ROW = re.compile(r"^\s*(CP\d{5})\s+\S+\s+[█░]+\s+[\d.]+\s+(\d+\.\d{3})\s")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
KEY_TIMEOUT_S = 10.0


class BenchFailed(Exception):
    """The benchmark could not complete; the message says where."""


@dataclass
class Result:
    """One run's figures."""

    chargers: int
    stream: str
    seconds: float = 0.0
    cpu: float = 0.0
    rss_mb: float = 0.0
    peak_rss_mb: float = 0.0
    keys: list[float] = field(default_factory=list)
    missed_keys: int = 0
    ages: list[float] = field(default_factory=list)
    dropped: int = 0

    def rows(self) -> list[tuple[str, str]]:
        """The table's lines."""
        keys = Spread.of(self.keys)
        ages = Spread.of(self.ages)
        return [
            (f"N = {self.chargers:,}, stream {self.stream}", ""),
            ("dashboard CPU (% of a core)", f"{self.cpu * 100:.0f} %"),
            ("dashboard RSS now / peak", f"{self.rss_mb:.0f} / {self.peak_rss_mb:.0f} MB"),
            ("key → screen p50 / p99 / max", f"{keys.ms()} ms ({keys.count} presses)"),
            ("key presses never shown", f"{self.missed_keys}"),
            (
                "figure age p50 / p99 / max",
                f"{_s(ages.p50)} / {_s(ages.p99)} / {_s(ages.max)} s ({ages.count} figures)",
            ),
            ("messages dropped by the broker", f"{self.dropped:,}"),
        ]


def _s(seconds: float) -> str:
    return "-" if seconds != seconds else f"{seconds:.2f}"  # noqa: PLR0124 - nan check


class Pane:
    """The dashboard in a tmux session of its own."""

    def __init__(self, command: str, width: int, height: int) -> None:
        self.socket = f"evcsm-bench-{os.getpid()}-{time.monotonic_ns()}"
        self._tmux("new-session", "-d", "-s", "dash", "-x", str(width), "-y", str(height), command)
        self.pid = int(self._tmux("list-panes", "-t", "dash", "-F", "#{pane_pid}").strip())

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise BenchFailed(f"tmux {args[0]}: {done.stderr.strip()}")
        return done.stdout

    def screen(self) -> str:
        """What the pane shows now."""
        return self._tmux("capture-pane", "-p", "-t", "dash")

    def press(self, key: str) -> None:
        """Type one key."""
        self._tmux("send-keys", "-t", "dash", key)

    def close(self) -> None:
        """End the session (and the dashboard in it)."""
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_mb(pid: int) -> tuple[float, float]:
    """Resident set size now and at its peak, in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(value.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def dropped(port: int) -> int:
    """The broker's count of messages dropped for slow subscribers."""
    done = subprocess.run(
        [
            "mosquitto_sub",
            "-p",
            str(port),
            "-t",
            "$SYS/broker/publish/messages/dropped",
            "-C",
            "1",
            "-W",
            "5",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return int(done.stdout.strip() or 0)


def ages(screen: str, fleet: Fleet, at: float) -> list[float]:
    """How old each kWh figure on `screen` was at `at`, in seconds."""
    found = []
    for line in screen.splitlines():
        match = ROW.match(line)
        if match:
            index = int(match.group(1)[2:]) - 1
            found.append(at - fleet.published_at(index, float(match.group(2))))
    return found


def selected(screen: str) -> str | None:
    """The charger the detail panel shows."""
    match = TITLE.search(screen)
    return match.group(1) if match else None


def wait_for(pane: Pane, what: str, pattern: "re.Pattern[str]", timeout: float) -> str:
    """Poll the pane until `pattern` appears on it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        screen = pane.screen()
        if pattern.search(screen):
            return screen
        time.sleep(0.2)
    raise BenchFailed(f"timed out after {timeout:.0f} s waiting for {what}")


def measure_key(pane: Pane, result: Result) -> None:
    """Press `j` and time until the detail names the next charger."""
    current = selected(pane.screen())
    if current is None:
        result.missed_keys += 1
        return
    expected = f"CP{int(current[2:]) + 1:05d}"
    pressed = time.perf_counter()
    pane.press("j")
    while time.perf_counter() - pressed < KEY_TIMEOUT_S:
        if selected(pane.screen()) == expected:
            result.keys.append(time.perf_counter() - pressed)
            return
    result.missed_keys += 1


def run_one(options: argparse.Namespace, count: int) -> Result:
    """One fleet size, from a fresh broker to a closed dashboard."""
    result = Result(count, options.stream)
    work = Path(tempfile.mkdtemp(prefix="evcsm-bench-dash-"))
    broker = Mosquitto(BROKER_CONF)
    broker.start()
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    fleet = Fleet.at(count, time.time())
    publisher = context.Process(
        target=run,
        args=(broker.port, fleet, options.stream, child, not options.no_refresh),
        name="fleet",
        daemon=True,
    )
    pane: Pane | None = None
    try:
        publisher.start()
        if not parent.poll(options.ready_timeout):
            raise BenchFailed("the publisher did not publish the fleet's states in time")
        parent.recv()
        env = f"PYTHONPATH={options.tui_pythonpath} " if options.tui_pythonpath else ""
        command = f"exec env {env}{EVCSM_TUI} --mqtt-url {broker.url} --log-file {work / 'tui.log'}"
        pane = Pane(command, 120, 40)
        wait_for(pane, "the first charger charging", re.compile(r"CP00001\s+Charging"), 120)
        time.sleep(options.warmup)
        start_dropped = dropped(broker.port)
        started, cpu_before = time.perf_counter(), cpu_seconds(pane.pid)
        next_key = started + 1
        while (now := time.perf_counter()) - started < options.seconds:
            if now >= next_key:
                measure_key(pane, result)
                next_key += options.key_every
                continue
            screen = pane.screen()
            result.ages.extend(ages(screen, fleet, time.time()))
            time.sleep(0.25)
        result.seconds = time.perf_counter() - started
        result.cpu = (cpu_seconds(pane.pid) - cpu_before) / result.seconds
        result.rss_mb, result.peak_rss_mb = memory_mb(pane.pid)
        time.sleep(1.5)  # the broker's $SYS counters come once a second
        result.dropped = dropped(broker.port) - start_dropped
    finally:
        if pane is not None:
            pane.close()
        publisher.kill()
        publisher.join(timeout=10)
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(broker.dir, ignore_errors=True)
    return result


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__)
    parser.add_argument("--chargers", default="500,2000,5000", help="fleet sizes, comma-separated")
    parser.add_argument("--seconds", type=float, default=30.0, help="measuring window per size")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before measuring")
    parser.add_argument("--key-every", type=float, default=2.0, help="seconds between presses")
    parser.add_argument("--stream", choices=("fleet", "session"), default="fleet")
    parser.add_argument(
        "--no-refresh",
        action="store_true",
        help="no periodic retained states (as the daemon published before they were added)",
    )
    parser.add_argument("--ready-timeout", type=float, default=180.0)
    parser.add_argument("--tui-pythonpath", default="", help="run another checkout's dashboard")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run every size and print one table each."""
    options = parse(argv)
    if shutil.which("tmux") is None:
        print("tmux is not installed: apt-get install tmux", file=sys.stderr)
        return 2
    print(Machine.here().describe())
    for count in (int(part) for part in options.chargers.split(",")):
        try:
            result = run_one(options, count)
        except BenchFailed as exc:
            print(f"N = {count:,}: failed: {exc}", file=sys.stderr)
            return 1
        print()
        print(table(f"Dashboard, {result.seconds:.0f} s window", result.rows()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
