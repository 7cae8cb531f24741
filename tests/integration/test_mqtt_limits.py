"""What a client can make the daemon hold: bounded by its workers, queues and packet limits.

A flood of commands against a daemon whose handlers are stuck: what it holds stays bounded.

The handlers wait on a gate, as they would on a database that stopped answering. One client then
publishes QoS 1 and QoS 0 commands as fast as it can. The daemon must hold no more than its
workers, its receive maximum and its QoS 0 queue, start no task per message, and, once the gate
opens, carry out every QoS 1 command (the broker kept what the daemon had no room for).
"""

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from evcsm_daemon.mqtt.connection import MAX_PACKET_BYTES, QOS0_QUEUE, RECEIVE_MAXIMUM
from evcsm_daemon.mqtt.handlers import Handlers
from evcsm_daemon.mqtt.inbox import WORKERS
from evcsm_schema import topics

from tests.support.broker import OPEN_CONF, Mosquitto
from tests.support.daemon import daemon_settings, running_daemon
from tests.support.mqtt import WAIT_S, probe, wait_until


async def wait_until_long(condition: Callable[[], bool]) -> None:
    """`wait_until` with room for a flood to drain on a busy machine."""
    await wait_until(condition, within=4 * WAIT_S)


QOS1_COMMANDS = 600
QOS0_COMMANDS = 1500
QOS1_TOPIC = "evcsm/chargers/NOPE/cmd/stop"


async def test_a_flood_grows_neither_tasks_nor_queues(
    broker: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = asyncio.Event()
    handled: Counter[str] = Counter()
    real_dispatch = Handlers.dispatch

    async def stuck(self: Handlers, topic: str, payload: bytes, **kwargs: Any) -> Any:
        await gate.wait()
        handled[topic] += 1
        return await real_dispatch(self, topic, payload, **kwargs)

    monkeypatch.setattr(Handlers, "dispatch", stuck)
    async with running_daemon(daemon_settings(broker.url)) as daemon, probe(broker.port) as flood:
        bridge = daemon.bridge
        assert bridge is not None
        connection = bridge.connection
        assert connection is not None
        baseline = len(asyncio.all_tasks())
        most = baseline

        def saturated() -> bool:
            nonlocal most
            most = max(most, len(asyncio.all_tasks()))
            # Every QoS 0 command arrived (kept or dropped), and QoS 1 up to the receive maximum.
            return connection.received >= RECEIVE_MAXIMUM + QOS0_COMMANDS

        for _ in range(QOS1_COMMANDS):
            await flood.client.publish(QOS1_TOPIC, b"{}", qos=1)
        for _ in range(QOS0_COMMANDS):
            await flood.client.publish(topics.SESSION_QUERY, b"{}", qos=0)
        await wait_until_long(saturated)

        assert most <= baseline, "a task per message"
        assert bridge.inbox.busy == WORKERS
        assert bridge.backlog <= QOS0_QUEUE
        assert connection.received == RECEIVE_MAXIMUM + QOS0_COMMANDS
        assert connection.dropped >= QOS0_COMMANDS - QOS0_QUEUE

        gate.set()
        await wait_until_long(lambda: handled[QOS1_TOPIC] == QOS1_COMMANDS)
        await wait_until_long(
            lambda: bridge.inbox.handled == QOS1_COMMANDS + QOS0_COMMANDS - connection.dropped
        )
        assert handled[topics.SESSION_QUERY] == QOS0_COMMANDS - connection.dropped
        assert bridge.connects == 1
        still = await flood.request(topics.SESSION_QUERY)
        assert still["ok"] is True


async def test_a_payload_over_the_daemons_packet_limit_never_reaches_it(broker: Mosquitto) -> None:
    async with running_daemon(daemon_settings(broker.url)) as daemon, probe(broker.port) as client:
        assert daemon.bridge is not None
        connection = daemon.bridge.connection
        assert connection is not None
        before = connection.received
        huge = b'{"reason":"' + b"x" * MAX_PACKET_BYTES + b'"}'
        await client.client.publish("evcsm/chargers/CP1/cmd/stop", huge, qos=1)
        # Under the limit but over the largest valid request: a clear error.
        too_large = await client.request("evcsm/chargers/CP1/cmd/stop", huge[: 20 * 1024])
        assert too_large["error"]["code"] == "payload_too_large"
        assert connection.received == before + 1
        assert daemon.bridge.connects == 1


async def test_a_reply_over_the_brokers_packet_limit_becomes_an_error_reply() -> None:
    # The broker announces its limit in CONNACK and disconnects a client that sends more.
    with Mosquitto(OPEN_CONF + "max_packet_size 4096\n") as small:
        async with (
            running_daemon(daemon_settings(small.url, chargers="CP1:22")) as daemon,
            probe(small.port) as client,
        ):
            assert daemon.bridge is not None
            for _ in range(12):
                assert (await client.request("evcsm/chargers/CP1/cmd/start"))["ok"] is True
                assert (await client.request("evcsm/chargers/CP1/cmd/stop"))["ok"] is True
            page = await client.request(topics.SESSION_QUERY, b'{"limit":3}')
            assert page["ok"] is True
            everything = await client.request(topics.SESSION_QUERY, b'{"limit":1000}')
            assert everything["ok"] is False
            assert everything["error"]["code"] == "payload_too_large"
            assert "4096" in everything["error"]["message"]
            assert daemon.bridge.connects == 1


BURST = 1000


async def test_every_request_of_a_burst_is_answered(
    broker: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mosquitto 2.0.11 sends past the daemon's Receive Maximum once acknowledgements flow: a
    request it has no room for is answered `unavailable` at once, never acknowledged unanswered."""
    gate = asyncio.Event()
    real_dispatch = Handlers.dispatch

    async def slow(self: Handlers, topic: str, payload: bytes, **kwargs: Any) -> Any:
        await gate.wait()
        await asyncio.sleep(0.01)  # slower than the broker delivers, as a busy store would be
        return await real_dispatch(self, topic, payload, **kwargs)

    monkeypatch.setattr(Handlers, "dispatch", slow)
    async with running_daemon(daemon_settings(broker.url)) as daemon, probe(broker.port) as client:
        connection = daemon.bridge.connection if daemon.bridge else None
        assert connection is not None
        sent = {b"q%d" % number for number in range(BURST)}
        for correlation in sent:
            await client.send(topics.SESSION_QUERY, b"{}", correlation)
        # Until the first acknowledgement the broker keeps to the Receive Maximum; after it,
        # Mosquitto 2.0.11 sends up to RECEIVE_MAXIMUM - 1 more for each one.
        await wait_until_long(lambda: connection.received >= RECEIVE_MAXIMUM)
        gate.set()

        def answers() -> Counter[str]:
            found: Counter[str] = Counter()
            for message in client.messages:
                if message.correlation in sent:
                    reply = message.json()
                    found["ok" if reply["ok"] else reply["error"]["code"]] += 1
            return found

        await wait_until_long(lambda: sum(answers().values()) >= BURST)
        assert sum(answers().values()) == BURST
        assert answers()["ok"] == BURST - connection.refused
        assert answers()["unavailable"] == connection.refused
        assert connection.dropped == 0
        assert daemon.bridge is not None
        assert daemon.bridge.connects == 1
