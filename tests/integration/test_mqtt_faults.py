"""What one message can do to the daemon: nothing. And if the daemon dies anyway, `offline` stays.

Each test sends what once stopped the daemon (or makes its handling fail on purpose), then shows
the daemon still connected on its first connection, still answering, and its availability never
`offline`.
"""

import asyncio
import logging
import subprocess
from typing import Any

import pytest
from evcsm_daemon.mqtt.handlers import Handlers
from evcsm_daemon.runtime import Daemon
from evcsm_schema import topics

from tests.support.broker import Mosquitto
from tests.support.daemon import daemon_settings, running_daemon
from tests.support.mqtt import WAIT_S, probe

BAD_RESPONSE_TOPICS = [
    "evcsm/replies/x/a+b",  # a wildcard inside a level: paho raised ValueError on the reply
    "evcsm/replies/x/y/a#b",
    "evcsm/replies/+/x/y",
    "evcsm/replies//x/y",
    "evcsm/replies/x",
    "evcsm/replies/x/" + "y" * 40_000,  # over the broker's limit once the reply is added
]


async def test_a_response_topic_with_a_wildcard_inside_a_level_stops_nothing(
    broker: Mosquitto,
) -> None:
    async with (
        probe(broker.port, topics.AVAILABILITY) as watcher,
        running_daemon(daemon_settings(broker.url)) as daemon,
        probe(broker.port) as viewer,
    ):
        assert daemon.bridge is not None
        await watcher.wait_for(lambda m: m.payload == b"online")
        for number, bad in enumerate(BAD_RESPONSE_TOPICS):
            await viewer.send(topics.SESSION_QUERY, b"{}", number.to_bytes(2, "big"), bad)
            await viewer.send("evcsm/chargers/CP1/cmd/start", b"{}", b"cmd-%d" % number, bad)
        # Requests are handled in order per worker; a later answered request proves the daemon
        # got past every bad one (and carried out the commands whose reply path it refused).
        for _ in range(20):
            reply = await viewer.request(topics.SESSION_QUERY, b'{"chargerId":"CP1"}')
            assert reply["ok"] is True
        assert reply["page"]["items"][0]["status"] == "Charging"
        assert daemon.bridge.connects == 1
        assert daemon.bridge.connected.is_set()
        assert [m.payload for m in watcher.on(topics.AVAILABILITY)] == [b"online"]


async def test_a_handler_that_fails_is_answered_and_the_daemon_keeps_running(
    broker: Mosquitto, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_dispatch = Handlers.dispatch

    async def dispatch(self: Handlers, topic: str, payload: bytes, **kwargs: Any) -> Any:
        if payload == b'{"boom":true}':
            raise RuntimeError("a bug in a handler")
        return await real_dispatch(self, topic, payload, **kwargs)

    monkeypatch.setattr(Handlers, "dispatch", dispatch)
    caplog.set_level(logging.ERROR)
    async with running_daemon(daemon_settings(broker.url)) as daemon, probe(broker.port) as client:
        assert daemon.bridge is not None
        failed = await client.request("evcsm/chargers/CP2/cmd/start", b'{"boom":true}')
        assert failed == {
            "ok": False,
            "chargerId": "CP2",
            "action": "start",
            "error": {"code": "internal", "message": "internal error; see the daemon log"},
        }
        query = await client.request(topics.SESSION_QUERY, b'{"boom":true}')
        assert query["ok"] is False
        assert query["error"]["code"] == "internal"
        started = await client.request("evcsm/chargers/CP2/cmd/start")
        assert started["ok"] is True
        assert daemon.bridge.connects == 1
    failures = [r for r in caplog.records if "a bug in a handler" in str(r.exc_info)]
    assert len(failures) == 2


async def test_a_daemon_that_dies_leaves_offline_retained(broker: Mosquitto) -> None:
    daemon = Daemon(daemon_settings(broker.url))
    task = asyncio.create_task(daemon.run(asyncio.Event()), name="dying-daemon")
    async with asyncio.timeout(WAIT_S):
        await daemon.ready.wait()
        assert daemon.bridge is not None
        assert daemon.service is not None
        await daemon.bridge.connected.wait()

    async def tick() -> list[Any]:
        raise RuntimeError("an unexpected failure in the ticker")

    async with probe(broker.port, topics.AVAILABILITY) as watcher:
        await watcher.wait_for(lambda m: m.payload == b"online")
        daemon.service.tick = tick  # type: ignore[method-assign]
        with pytest.raises(ExceptionGroup) as died:
            await asyncio.wait_for(task, WAIT_S)
        assert died.group_contains(RuntimeError)
        await watcher.wait_for(lambda m: m.payload == b"offline")
    # What a client that connects now reads: the retained availability. (A separate process: the
    # dead daemon's abrupt exit leaves this event loop unfit for new sockets.)
    assert await retained(broker.port, topics.AVAILABILITY) == "offline"


async def retained(port: int, topic: str) -> str:
    """The retained payload on `topic`, read by mosquitto_sub (empty when there is none)."""
    command = ["mosquitto_sub", "-p", str(port), "-t", topic, "-C", "1", "-W", "10", "-F", "%r %p"]
    done = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, check=False, timeout=30
    )
    flag, _, payload = done.stdout.strip().partition(" ")
    return payload if flag == "1" else ""
