"""MQTT flood: what a client publishing as fast as it can makes the daemon hold.

    uv run python -m bench.flood --messages 100000

Starts a real Mosquitto on a free loopback port and the daemon's entry point as a process of its
own (the in-memory store), then publishes `--messages` commands from one client as fast as the
broker takes them: a mix of QoS 1 history queries, QoS 1 stops of an idle charger and starts of
an unknown one, QoS 0 queries and QoS 0 payloads of `--payload-bytes` that are not JSON. None
of them adds a session: a flood of real starts and stops is paced by the store (the in-memory
store slows as sessions pile up), which is not what this measures. The broker keeps at most 10,000 messages
for the daemon, as the deployment's mosquitto.conf does. The bench samples the daemon's resident
memory until the flood is over and the daemon's memory has stopped growing, then times a history
query, which waits behind whatever the broker still holds for the daemon. `--daemon PATH` runs another build's entry point, to compare. Loopback only; the run is
bounded by its message count and timeouts.
"""

import argparse
import asyncio
import contextlib
import itertools
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
from evcsm_link.client import connect
from evcsm_link.requests import request_properties
from evcsm_schema import topics
from evcsm_schema.broker import BrokerUrl
from evcsm_schema.requests import ReplyPath

from bench.proc import rss_mib
from tests.support.broker import OPEN_CONF, Mosquitto, free_port

SAMPLE_S = 0.05
QUIET_S = 3.0
"""The daemon counts as done once its memory has not grown for this long after the flood."""
ANSWER_TIMEOUT_S = 300.0
JUNK_BYTES = 30_000
"""Size of the flood's payloads that are not JSON, by default."""
DAEMON = str(Path(sys.executable).parent / "evcsm-daemon")
"""The entry point of the daemon installed beside this interpreter."""
BROKER_CONF = OPEN_CONF.replace("max_queued_messages 100000", "max_queued_messages 10000")
"""The tests' open broker with the deployment's queue limit (mosquitto.conf): the broker keeps at
most 10,000 messages for a client that is behind, and drops the rest of a flood."""


@dataclass
class Result:
    """What one flood did to the daemon."""

    messages: int
    seconds: float
    rss_before_mib: float
    rss_peak_mib: float
    rss_after_mib: float
    answered_s: float | None
    alive: bool


def flood_messages(count: int, payload_bytes: int) -> list[tuple[str, bytes, int]]:
    """(topic, payload, qos) of the flood, in publishing order."""
    junk = b"\xff" * payload_bytes
    kinds = itertools.cycle(
        [
            (topics.SESSION_QUERY, b'{"limit":5}', 1),
            ("evcsm/chargers/CP1/cmd/stop", b"{}", 1),
            ("evcsm/chargers/NOPE/cmd/start", b"{}", 1),
            (topics.SESSION_QUERY, b"{}", 0),
            ("evcsm/chargers/CP2/cmd/start", junk, 0),
        ]
    )
    return list(itertools.islice(kinds, count))


async def ask(port: int) -> float | None:
    """Seconds a history query takes to be answered, or None within ANSWER_TIMEOUT_S."""
    ident = f"bench-ask-{uuid.uuid4().hex[:8]}"
    async with connect(BrokerUrl("127.0.0.1", port), ident) as client:
        await client.subscribe(topics.reply_branch(None, ident), qos=1)
        properties = request_properties(ReplyPath.new(None, ident))
        sent = time.perf_counter()
        await client.publish(topics.SESSION_QUERY, b"{}", qos=1, properties=properties)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(ANSWER_TIMEOUT_S):
                async for _ in client.messages:
                    return time.perf_counter() - sent
    return None


async def ready(http_port: int) -> None:
    """Wait until the daemon says it is ready (broker and store reachable)."""
    async with httpx.AsyncClient(timeout=5) as http, asyncio.timeout(ANSWER_TIMEOUT_S):
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"http://127.0.0.1:{http_port}/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)


async def flood(
    messages: int,
    payload_bytes: int,
    daemon_path: str = DAEMON,
    log: IO[bytes] | int = subprocess.DEVNULL,
) -> Result:
    """Run one flood of `messages` against a fresh broker and daemon (`daemon_path`)."""
    http_port = free_port()
    with Mosquitto(BROKER_CONF) as broker:
        env = os.environ | {
            "EVCSM_MQTT_URL": broker.url,
            "EVCSM_STORE_URI": "memory",
            "EVCSM_HTTP_ADDR": f"127.0.0.1:{http_port}",
            "EVCSM_CHARGERS": "CP1:22,CP2:11",
            "EVCSM_LOG_LEVEL": os.environ.get("EVCSM_LOG_LEVEL", "ERROR"),
        }
        daemon = subprocess.Popen(  # noqa: ASYNC220 - started once, before the measurement
            [daemon_path], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            await ready(http_port)
            if await ask(broker.port) is None:
                raise SystemExit("the daemon did not answer before the flood")
            before = rss_mib(daemon.pid)
            peak = before
            started = time.perf_counter()
            flooder = f"bench-flood-{uuid.uuid4().hex[:8]}"
            async with connect(BrokerUrl("127.0.0.1", broker.port), flooder, timeout=60) as client:
                sent = flood_messages(messages, payload_bytes)
                for number, (topic, payload, qos) in enumerate(sent):
                    await client.publish(topic, payload, qos=qos)
                    if number % 500 == 0:
                        peak = max(peak, rss_mib(daemon.pid))
            seconds = time.perf_counter() - started
            quiet_since, last = time.perf_counter(), peak
            while daemon.poll() is None and time.perf_counter() - quiet_since < QUIET_S:
                await asyncio.sleep(SAMPLE_S)
                now = rss_mib(daemon.pid)
                peak = max(peak, now)
                if now > last:
                    quiet_since, last = time.perf_counter(), now
            alive = daemon.poll() is None
            after = rss_mib(daemon.pid) if alive else 0.0
            answered = await ask(broker.port) if alive else None
            return Result(messages, seconds, before, peak, after, answered, alive)
        finally:
            daemon.terminate()
            daemon.wait(timeout=30)


def main() -> None:
    """Parse arguments, run the flood, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--payload-bytes", type=int, default=JUNK_BYTES)
    parser.add_argument("--daemon", default=DAEMON)
    parser.add_argument("--log", type=argparse.FileType("wb"), default=subprocess.DEVNULL)
    args = parser.parse_args()
    result = asyncio.run(flood(args.messages, args.payload_bytes, args.daemon, args.log))
    answered = f"{result.answered_s * 1000:.0f} ms" if result.answered_s else "no answer"
    print(
        f"{result.messages} messages in {result.seconds:.1f} s; daemon RSS"
        f" {result.rss_before_mib:.0f} MiB before, {result.rss_peak_mib:.0f} MiB peak,"
        f" {result.rss_after_mib:.0f} MiB after; still running: {result.alive};"
        f" next query answered in {answered}"
    )


if __name__ == "__main__":
    main()
