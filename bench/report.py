"""The fleet benchmark's figures: the daemon's counters, one run's result, and its table."""

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from evcsm_daemon.runtime import Daemon

from bench.clients import ClientReport, Ramped, WindowOpened
from bench.machine import Machine
from bench.stats import Spread, ms, table

AIM_LAG_P99_S = 0.100
"""The aim: tick lag p99 under 100 ms."""
LOOP_LATE_S = 0.005
"""A probe woken later than this shows the event loop held up long enough to matter."""
DELIVERED_SHARE = 0.98
"""Below this share of the expected update rate, the stream is falling behind."""


def rss_bytes() -> int:
    """This process's resident set size, from /proc/self/status."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def thread_times() -> tuple[float, float]:
    """Seconds this process's main thread (the event loop's) has run on a CPU, and has been
    runnable but waited for one (what other processes on its core cost it), from
    /proc/self/schedstat; NaN where there is none."""
    try:
        fields = Path("/proc/self/schedstat").read_text(encoding="ascii").split()
    except OSError:
        return math.nan, math.nan
    return int(fields[0]) / 1e9, int(fields[1]) / 1e9


@dataclass(frozen=True, slots=True)
class Late:
    """One wake-up of the event-loop probe: how late it was, and over the sleep and the delay
    how long the loop's thread ran and how long it waited for a CPU."""

    late: float
    ran: float
    waited: float


@dataclass(frozen=True, slots=True)
class Baseline:
    """A bare aiomqtt loop publishing `messages` payloads of `size` bytes, one by one."""

    messages: int
    cpu_s: float
    wall_s: float
    size: int

    @property
    def cpu_per_message(self) -> float:
        """Seconds of CPU per message."""
        return self.cpu_s / self.messages


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The daemon's counters at one moment."""

    ticks: int
    flushes: int
    flushed: int
    skipped: int
    failed: int
    published: int
    dropped: int
    active: int
    cpu: float
    at: float
    waited: float
    """Seconds the event loop's thread had waited for a CPU since start (`thread_times`)."""

    @classmethod
    def of(cls, daemon: Daemon) -> "Snapshot":
        """Read them now."""
        assert daemon.ticker is not None  # noqa: S101 - set once the daemon is ready
        assert daemon.service is not None  # noqa: S101
        assert daemon.bridge is not None  # noqa: S101
        stats = daemon.ticker.stats
        return cls(
            ticks=len(stats.lags),
            flushes=len(stats.store_durations),
            flushed=stats.flushed,
            skipped=stats.skipped,
            failed=stats.failed,
            published=stats.sessions,
            dropped=daemon.bridge.dropped,
            active=len(daemon.service.active_sessions()),
            cpu=time.process_time(),
            at=time.perf_counter(),
            waited=thread_times()[1],
        )


@dataclass(frozen=True)
class FleetResult:
    """Everything one run measured; times in seconds."""

    chargers: int
    tick_interval: float
    pinned_cpu: int | None
    machine: Machine
    ramp: Ramped
    warmup: WindowOpened
    clients: ClientReport
    opened: Snapshot
    closed: Snapshot
    lags: list[float]
    durations: list[float]
    store_durations: list[float]
    store: str = "memory"
    stored: int = 0
    """Stopped sessions seeded before the run."""
    rss: list[int] = field(default_factory=list)
    """The daemon process's RSS, once a second over the window."""
    loop_lates: list[Late] = field(default_factory=list)
    """How late the daemon's event loop woke a probe sleeping 5 ms, over the window."""
    store_server_cpu: float = 0.0
    """CPU seconds the driver double's server process spent in the window (a process of its
    own: not in the daemon's CPU)."""
    store_server_rss: int = 0
    """The driver double's server process's RSS at the window's end, in bytes."""
    baseline: Baseline | None = None
    session_updates: str = "all"
    """The daemon's `EVCSM_SESSION_UPDATES`."""
    listener_nice: int = 0
    """Niceness of the benchmark's listener process."""
    flushes: list[tuple[float, float]] = field(default_factory=list)
    """When each flush started and ended, on the clock of `ClientReport.churn_sent`."""

    @property
    def active(self) -> int:
        """Sessions the run keeps charging."""
        return len(self.ramp.round_trips) + self.ramp.failed

    def cpu_per_update(self) -> float:
        """The daemon's CPU seconds per session update delivered in the window (per fleet
        reading when the per-session stream is limited)."""
        cpu = self.closed.cpu - self.opened.cpu
        delivered = (
            self.clients.updates
            if self.session_updates == "all"
            else len(self.clients.fleet_latencies)
        )
        return cpu / delivered if delivered else math.nan

    @property
    def window(self) -> float:
        """Length of the measuring window as the daemon's process saw it."""
        return self.closed.at - self.opened.at

    @property
    def skipped(self) -> int:
        """Ticks skipped in the window because the one before overran its interval."""
        return self.closed.skipped - self.opened.skipped

    def shortfalls(self) -> list[str]:
        """Why the ticks did not keep their schedule at this size (empty when they did)."""
        why: list[str] = []
        lag = Spread.of(self.lags)
        duration = Spread.of(self.durations)
        if self.opened.active < self.active or self.closed.active < self.active:
            why.append(f"only {min(self.opened.active, self.closed.active)} sessions active")
        if math.isnan(lag.p99) or lag.p99 >= AIM_LAG_P99_S:
            why.append(f"tick lag p99 {ms(lag.p99)} ms")
        if self.skipped:
            why.append(f"{self.skipped} ticks skipped")
        if not math.isnan(duration.p99) and duration.p99 >= self.tick_interval:
            why.append("ticks take longer than the interval")
        if self.closed.failed > self.opened.failed:
            why.append("ticks failed to store")
        return why

    def late_delivery(self) -> list[str]:
        """Why subscribers did not get every session's update within one tick (empty if they did):
        on `session/updates` when the daemon sends every session's, and on the fleet stream."""
        why: list[str] = []
        expected = self.active / self.tick_interval
        if self.session_updates == "all":
            why += self._late("updates", self.clients.updates, expected, self.clients.latencies)
        ticks = self.clients.fleet_ticks
        short = [count for count in ticks if count < DELIVERED_SHARE * self.active]
        if len(ticks) < self.clients.seconds / self.tick_interval - 2 or short:
            why.append(f"fleet: {len(ticks)} ticks received whole, {len(short)} short of readings")
        if math.isnan((fleet := Spread.of(self.clients.fleet_latencies)).p99) or (
            fleet.p99 >= self.tick_interval
        ):
            why.append(f"fleet: reading to arrival p99 {ms(fleet.p99)} ms")
        if not self.warmup.settled:
            why.append("the ramp's backlog was still draining")
        return why

    def _late(self, what: str, count: int, expected: float, latencies: list[float]) -> list[str]:
        why: list[str] = []
        received = count / self.clients.seconds if self.clients.seconds else 0.0
        if received < DELIVERED_SHARE * expected:
            why.append(f"{received:,.0f} {what}/s received of {expected:,.0f}")
        arrival = Spread.of(latencies)
        if math.isnan(arrival.p99) or arrival.p99 >= self.tick_interval:
            why.append(f"{what}: reading to arrival p99 {ms(arrival.p99)} ms")
        return why


def render(result: FleetResult) -> str:
    """The report table."""
    clients, opened, closed = result.clients, result.opened, result.closed
    window = result.window
    published = closed.published - opened.published
    rate = clients.updates / clients.seconds if clients.seconds else math.nan
    per_second = sorted(clients.per_second)
    pinning = (
        f"daemon pinned to CPU {result.pinned_cpu}, broker and clients on the others"
        if result.pinned_cpu is not None
        else "nothing pinned"
    )
    if result.listener_nice:
        pinning += f"; the listener at nice {result.listener_nice}"
    ramp = result.ramp
    rows = [
        ("machine", result.machine.describe()),
        ("placement", pinning),
        ("active sessions (open / close)", f"{opened.active} / {closed.active}"),
        (
            "ramp: start commands",
            f"{len(ramp.round_trips)} ok, {ramp.failed} failed, {ramp.seconds:.1f} s",
        ),
        ("  round trip p50 / p99 / max ms", Spread.of(ramp.round_trips).ms()),
        ("warm-up after the ramp", _warmup(result.warmup)),
        (
            "churn while charging",
            f"{len(clients.stop_round_trips)} stops, {len(clients.start_round_trips)} starts, {clients.churn_failed} failed",
        ),
        ("  stop round trip p50 / p99 / max ms", Spread.of(clients.stop_round_trips).ms()),
        ("  start round trip p50 / p99 / max ms", Spread.of(clients.start_round_trips).ms()),
        ("  REST stop p50 / p99 / max ms", Spread.of(clients.rest_stop_round_trips).ms()),
        ("  REST start p50 / p99 / max ms", Spread.of(clients.rest_start_round_trips).ms()),
        *_met_flush(result),
        (
            "session updates received",
            f"{rate:,.0f} /s sustained ({clients.updates:,} in {clients.seconds:.1f} s)",
        ),
        ("  per second min / median / max", _per_second(per_second)),
        (
            "  published by the daemon",
            f"{published:,} ({published / window:,.0f} /s), {closed.dropped - opened.dropped} dropped from the outbox",
        ),
        ("  gap per session p50 / p99 / max ms", Spread.of(clients.gaps).ms()),
        ("  reading to arrival p50 / p99 / max ms", Spread.of(clients.latencies).ms()),
        (
            "fleet readings received (evcsm/fleet/updates)",
            f"{len(clients.fleet_latencies) / clients.seconds:,.0f} /s in "
            f"{clients.fleet_messages:,} messages, {len(clients.fleet_ticks)} ticks whole "
            f"(readings per tick {_per_second(sorted(clients.fleet_ticks))})",
        ),
        ("  reading to arrival p50 / p99 / max ms", Spread.of(clients.fleet_latencies).ms()),
        (
            "ticks in window",
            f"{len(result.durations)} ({result.skipped} skipped, {closed.failed - opened.failed} failed)",
        ),
        ("  tick lag p50 / p99 / max ms", Spread.of(result.lags).ms()),
        ("  tick duration p50 / p99 / max ms", Spread.of(result.durations).ms()),
        (
            "store flushes in window",
            f"{len(result.store_durations)}, {closed.flushed - opened.flushed:,} readings stored",
        ),
        ("  flush (a tick's readings) p50 / p99 / max ms", Spread.of(result.store_durations).ms()),
        ("CPU: daemon process", f"{(closed.cpu - opened.cpu) / window:.0%} of one core"),
        *_loop(result, window),
        *_store_server(result, window),
        *_cost(result),
        *_rss(result.rss),
        (
            "CPU: client processes (commander, listener)",
            f"{clients.cpu_seconds / clients.seconds:.0%} of one core",
        ),
        (
            f"ticks on schedule, lag p99 < {AIM_LAG_P99_S * 1000:.0f} ms",
            _verdict(result.shortfalls()),
        ),
        ("updates delivered within one tick", _verdict(result.late_delivery())),
        *_pages(result),
    ]
    title = (
        f"EVCSM fleet: {result.chargers} chargers ({result.active} charging), "
        f"{result.stored:,} stored, store {result.store}, tick {result.tick_interval:g} s, "
        f"session updates {result.session_updates}, "
        f"{window:.0f} s window"
    )
    return table(title, rows)


def _verdict(shortfalls: list[str]) -> str:
    return "yes" if not shortfalls else "no: " + "; ".join(shortfalls)


def _warmup(warmup: WindowOpened) -> str:
    state = "updates arriving fresh" if warmup.settled else "updates still late (a backlog)"
    return f"{warmup.waited:.1f} s, {state}"


def _per_second(ordered: list[int]) -> str:
    if not ordered:
        return "-"
    return f"{ordered[0]:,} / {ordered[len(ordered) // 2]:,} / {ordered[-1]:,}"


def _store_server(result: FleetResult, window: float) -> list[tuple[str, str]]:
    if result.store != "mongodb-double":
        return []
    share = result.store_server_cpu / window
    rss = result.store_server_rss / 2**20
    return [
        ("the driver double's server process", f"CPU {share:.0%} of one core, RSS {rss:,.0f} MiB")
    ]


def _cost(result: FleetResult) -> list[tuple[str, str]]:
    baseline = result.baseline
    if baseline is None:
        return []
    per_update = result.cpu_per_update()
    bare = baseline.cpu_per_message
    return [
        ("CPU per update delivered: daemon", f"{per_update * 1e6:,.1f} us"),
        (
            "  bare aiomqtt publish loop",
            f"{bare * 1e6:,.1f} us ({baseline.messages:,} x {baseline.size} B, "
            f"{baseline.messages / baseline.wall_s:,.0f} /s)",
        ),
        ("  ratio daemon / bare loop", f"{per_update / bare:.2f}"),
    ]


def _loop(result: FleetResult, window: float) -> list[tuple[str, str]]:
    waited = result.closed.waited - result.opened.waited
    rows = [
        (
            "  waiting for a CPU (other processes on its core)",
            f"{waited * 1000:,.0f} ms in the window ({waited / window:.1%})",
        )
    ]
    lates = result.loop_lates
    if lates:
        over = [late for late in lates if late.late > LOOP_LATE_S]
        rows += [
            (
                "  event loop: a 5 ms sleep woken late by p50 / p99 / max ms",
                f"{Spread.of([late.late for late in lates]).ms()}",
            ),
            (
                f"    woken over {LOOP_LATE_S * 1000:.0f} ms late: times, ran / waited for a CPU ms",
                f"{len(over)} of {len(lates):,}, {sum(late.ran for late in over) * 1000:,.0f} / "
                f"{sum(late.waited for late in over) * 1000:,.0f}",
            ),
            (
                "    the five latest: late (ran / waited) ms",
                ", ".join(
                    f"{late.late * 1000:.0f} ({late.ran * 1000:.0f} / {late.waited * 1000:.0f})"
                    for late in sorted(lates, key=lambda late: late.late)[-5:]
                ),
            ),
        ]
    return rows


def _rss(samples: list[int]) -> list[tuple[str, str]]:
    if not samples:
        return []
    mib = [sample / 2**20 for sample in samples]
    return [
        (
            "RSS: daemon process first / max / last MiB",
            f"{mib[0]:,.0f} / {max(mib):,.0f} / {mib[-1]:,.0f} ({len(mib)} samples)",
        )
    ]


def _met_flush(result: FleetResult) -> list[tuple[str, str]]:
    """The churn's commands (all four kinds) apart: those that met a flush, the others."""
    met, others = during(result.clients.churn_sent, result.flushes)
    return [
        (
            "  commands that met a flush: n, p50 / p99 / max ms",
            f"{len(met)}, {Spread.of(met).ms()}",
        ),
        (
            "  the other commands: n, p50 / p99 / max ms",
            f"{len(others)}, {Spread.of(others).ms()}",
        ),
    ]


def during(
    sent: list[tuple[float, float]], spans: list[tuple[float, float]]
) -> tuple[list[float], list[float]]:
    """The round trips of the commands (sent at, round trip) that overlapped one of `spans`
    (start, end), and those of the others."""
    met: list[float] = []
    others: list[float] = []
    for at, trip in sent:
        overlapped = any(start < at + trip and end > at for start, end in spans)
        (met if overlapped else others).append(trip)
    return met, others


def _pages(result: FleetResult) -> list[tuple[str, str]]:
    pages = result.clients.pages
    if not pages:
        return []
    rows = [(f"history over REST, a page of 50 of {result.stored:,}: p50 / p99 / max ms", "")]
    for name, times in pages.items():
        total = result.clients.page_totals.get(name, 0)
        rows.append((f"  {name} (total {total:,})", Spread.of(times).ms()))
    return rows
