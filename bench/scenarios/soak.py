"""Sustained load: a fleet charging for minutes, with and without a subscriber that never reads.

Slow subscriber: a client subscribes to `#` and then never reads its socket while `fleet`
chargers charge on a 0.1 s tick. The broker runs with the deployment's queue limits
(`max_queued_messages 10000`, `max_queued_bytes` 64 MiB): once the slow client's socket and queue
are full, the broker drops what it cannot queue for it and counts it in
`$SYS/broker/publish/messages/dropped`. What must hold: the daemon's memory stays flat (it never
waits on any subscriber), it never reconnects, and a subscriber that does read still gets every
update.

Soak: `fleet` chargers charge on a SQLite file for `seconds`, while a client stops and starts
one charger, asks for history over MQTT and REST once a second. What must hold, after a warm-up
of a fifth of the run (at least 10 s): resident memory and open file descriptors flat, every
command answered, and ticks on schedule (as seen in the `session/updates` timestamps: one tick
per interval, no gap of two).
"""

import asyncio
import contextlib
import itertools
import socket
import statistics
import time
from collections.abc import Iterator
from datetime import datetime

import httpx
from evcsm_schema import topics

from bench.flood import BROKER_CONF
from bench.proc import Sample, rss_mib
from bench.scenarios.rig import Outcome, broker_losses, client, running, scratch
from bench.subscriber import mqtt_string, packet
from tests.support.broker import Mosquitto
from tests.support.mqtt import Probe

SLOW_TICK_S = 0.1
SOAK_TICK_S = 1.0
QUEUED_CONF = BROKER_CONF + "max_queued_bytes 67108864\nsys_interval 1\n"
"""The open test broker with the deployment's queue limits, and $SYS figures every second."""
DROPPED = "$SYS/broker/publish/messages/dropped"
SAMPLE_S = 1.0
RSS_SLACK_MIB = 5.0
"""Growth of resident memory after the warm-up that still counts as flat."""
FDS_SLACK = 2
DELIVERED_SHARE = 0.98


def fleet_of(size: int) -> str:
    """EVCSM_CHARGERS for `size` 22 kW chargers."""
    return ",".join(f"F{number:04d}:22" for number in range(1, size + 1))


async def start_all(http: httpx.AsyncClient, size: int) -> int:
    """Start every charger of the fleet over REST, 50 at a time; how many started."""
    gate = asyncio.Semaphore(50)

    async def start(number: int) -> bool:
        async with gate:
            response = await http.post(f"/api/chargers/F{number:04d}/start")
            return response.status_code in {200, 201}

    return sum(await asyncio.gather(*(start(n) for n in range(1, size + 1))))


@contextlib.contextmanager
def never_reading(port: int) -> Iterator[socket.socket]:
    """An MQTT 3.1.1 client subscribed to `#` at QoS 1 that never reads a byte (keep-alive off,
    a 4 KiB receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        sock.connect(("127.0.0.1", port))
        connect = mqtt_string("MQTT") + b"\x04\x02\x00\x00" + mqtt_string("faults-never-reads")
        subscribe = b"\x00\x01" + mqtt_string("#") + b"\x01"
        sock.sendall(packet(0x10, connect))
        sock.sendall(packet(0x82, subscribe))
        yield sock
    finally:
        sock.close()


def per_second(viewer: Probe, since: float, until: float) -> float:
    """`session/updates` the viewer received per second between two monotonic times."""
    got = sum(1 for m in viewer.on(topics.SEED_SESSION) if since <= m.at < until)
    return got / (until - since)


async def slow_subscriber(size: int, seconds: float) -> list[Outcome]:
    """A `#` subscriber that never reads while `size` chargers charge for `seconds`."""
    row = Outcome(
        f"a # subscriber that never reads, {size} chargers at {SLOW_TICK_S:g} s, {seconds:g} s",
        int(size * seconds / SLOW_TICK_S),
        "update",
    )
    with Mosquitto(QUEUED_CONF) as broker:
        async with (
            running(
                EVCSM_MQTT_URL=broker.url,
                EVCSM_STORE_URI="memory",
                EVCSM_CHARGERS=fleet_of(size),
                EVCSM_TICK_INTERVAL=str(SLOW_TICK_S),
                EVCSM_LOG_LEVEL="WARNING",
            ) as daemon,
            httpx.AsyncClient(base_url=daemon.url, timeout=60) as http,
            client(broker.port, topics.SEED_SESSION, DROPPED) as viewer,
        ):
            row.check(await start_all(http, size) == size, "not every charger started")
            pid = daemon.process.pid
            before, broker_before = rss_mib(pid), rss_mib(broker.pid)
            samples: list[tuple[float, float]] = []
            with never_reading(broker.port):
                began = time.monotonic()
                while time.monotonic() - began < seconds:
                    await asyncio.sleep(SAMPLE_S)
                    samples.append((rss_mib(pid), rss_mib(broker.pid)))
                ended = time.monotonic()
                await asyncio.sleep(1.5)  # one more $SYS period
                dropped = latest_number(viewer, DROPPED)
            rate = per_second(viewer, began, ended)
            row.check_daemon(daemon)
            row.check(broker_losses(daemon) == 0, "the daemon lost its broker")
    after = samples[-1][0] if samples else before
    peak = max((s[0] for s in samples), default=before)
    broker_peak = max((s[1] for s in samples), default=broker_before)
    expected = size / SLOW_TICK_S
    row.check(
        peak - before <= RSS_SLACK_MIB, f"the daemon grew from {before:.0f} to {peak:.0f} MiB"
    )
    row.check(
        rate >= DELIVERED_SHARE * expected,
        f"a reading subscriber got {rate:.0f} of {expected:.0f} updates a second",
    )
    row.details |= {
        "daemon_rss_mib": [round(before, 1), round(peak, 1), round(after, 1)],
        "broker_rss_mib": [round(broker_before, 1), round(broker_peak, 1)],
        "broker_dropped": dropped,
        "reader_updates_per_s": round(rate, 1),
    }
    row.figure = (
        f"daemon RSS {before:.0f} → {after:.0f} MiB (peak {peak:.0f}); broker {broker_before:.0f}"
        f" → {broker_peak:.0f} MiB, {dropped or 0:,} dropped for the slow client; a reader got"
        f" {rate:,.0f}/s of {expected:,.0f}/s"
    )
    return [row]


def latest_number(viewer: Probe, topic: str) -> int | None:
    """The last number published on `topic` (a $SYS figure), if any."""
    found = viewer.on(topic)
    return int(found[-1].payload) if found else None


async def soak(size: int, seconds: float) -> list[Outcome]:
    """`size` chargers charging on SQLite for `seconds`, with a command, a query a second."""
    row = Outcome(
        f"soak: {size} chargers on SQLite, commands and queries every second, {seconds:g} s",
        int(seconds),
        "second",
    )
    with scratch("soak") as folder, Mosquitto() as broker:
        async with (
            running(
                EVCSM_MQTT_URL=broker.url,
                EVCSM_STORE_URI=f"sqlite:{folder / 'sessions.db'}",
                EVCSM_CHARGERS=fleet_of(size),
                EVCSM_TICK_INTERVAL=str(SOAK_TICK_S),
                EVCSM_LOG_LEVEL="WARNING",
            ) as daemon,
            httpx.AsyncClient(base_url=daemon.url, timeout=60) as http,
            client(broker.port, topics.SEED_SESSION) as mqtt,
        ):
            row.check(await start_all(http, size) == size, "not every charger started")
            pid = daemon.process.pid
            samples: list[Sample] = []
            answers: dict[str, int] = {}
            began = time.monotonic()
            clock = time.time() - time.monotonic()
            chargers = itertools.cycle(range(1, size + 1))
            while (elapsed := time.monotonic() - began) < seconds:
                samples.append(Sample.of(pid, elapsed))
                await load(http, mqtt, next(chargers), answers)
                await asyncio.sleep(max(0.0, SAMPLE_S - (time.monotonic() - began - elapsed)))
            ticks = tick_times(mqtt, clock)
            row.check_daemon(daemon)
            row.check(broker_losses(daemon) == 0, "the daemon lost its broker")
    judge_soak(row, samples, ticks, answers, seconds)
    return [row]


async def load(http: httpx.AsyncClient, mqtt: Probe, number: int, answers: dict[str, int]) -> None:
    """One second's load: stop and start a charger, history over MQTT and REST."""
    charger = f"F{number:04d}"
    replies = [
        await mqtt.request(f"evcsm/chargers/{charger}/cmd/stop"),
        await mqtt.request(f"evcsm/chargers/{charger}/cmd/start"),
        await mqtt.request(topics.SESSION_QUERY, b'{"limit":50}'),
    ]
    for reply in replies:
        key = "MQTT ok" if reply["ok"] else f"MQTT {reply['error']['code']}"
        answers[key] = answers.get(key, 0) + 1
    for path in ("/api/sessions?limit=50", "/api/chargers"):
        key = f"REST {(await http.get(path)).status_code}"
        answers[key] = answers.get(key, 0) + 1


def tick_times(mqtt: Probe, wall_offset: float) -> list[tuple[float, float]]:
    """(reading time, arrival time) of every tick seen, wall-clock seconds, from the first
    update of each tick; `wall_offset` turns the monotonic clock into the wall clock."""
    first: dict[str, float] = {}
    for message in mqtt.on(topics.SEED_SESSION):
        stamp = message.json()["timestamp"]
        first.setdefault(stamp, message.at + wall_offset)
    return sorted((datetime.fromisoformat(stamp).timestamp(), at) for stamp, at in first.items())


def judge_soak(
    row: Outcome,
    samples: list[Sample],
    ticks: list[tuple[float, float]],
    answers: dict[str, int],
    seconds: float,
) -> None:
    """Flat memory and descriptors after the warm-up, every answer good, ticks on schedule."""
    warm = max(10.0, seconds / 5)
    settled = [s for s in samples if s.at >= warm] or samples[-1:]
    first, last = settled[0], settled[-1]
    growth = last.rss_mib - first.rss_mib
    row.check(growth <= RSS_SLACK_MIB, f"RSS grew {growth:.1f} MiB after the warm-up")
    row.check(last.fds - first.fds <= FDS_SLACK, f"open descriptors went {first.fds} → {last.fds}")
    bad = {k: v for k, v in answers.items() if k not in {"MQTT ok", "REST 200"}}
    row.check(not bad, f"answers other than ok: {bad}")
    steps = [b[0] - a[0] for a, b in itertools.pairwise(ticks)]
    lags = [arrival - stamp for stamp, arrival in ticks]
    late = [s for s in steps if s > 1.5 * SOAK_TICK_S]
    expected = int((ticks[-1][0] - ticks[0][0]) / SOAK_TICK_S) + 1 if ticks else 0
    row.check(bool(ticks) and not late, f"{len(late)} gaps between ticks over 1.5 intervals")
    row.check(len(ticks) >= expected, f"{len(ticks)} ticks seen of {expected}")
    per_minute = growth / max(1e-9, (last.at - first.at) / 60)
    row.details |= {
        "rss_mib": {"start": samples[0].rss_mib, "warm": first.rss_mib, "end": last.rss_mib},
        "fds": {"start": samples[0].fds, "warm": first.fds, "end": last.fds},
        "answers": answers,
        "ticks": len(ticks),
        "longest_tick_step_s": round(max(steps, default=0.0), 3),
        "first_update_lag_p50_ms": round(statistics.median(lags) * 1000, 1) if lags else None,
    }
    row.figure = (
        f"RSS {first.rss_mib:.0f} → {last.rss_mib:.0f} MiB after warm-up ({per_minute:+.2f}"
        f" MiB/min), fds {first.fds} → {last.fds}; {len(ticks)} ticks, longest step"
        f" {max(steps, default=0.0):.2f} s; {sum(answers.values()):,} answers all ok"
    )
