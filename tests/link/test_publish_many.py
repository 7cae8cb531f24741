"""`MqttClient.publish_many`: QoS 0 messages written as one buffer reach subscribers exactly as
paho's own `publish` would send them, in order, over MQTT 5 and 3.1.1."""

import asyncio

import aiomqtt
import pytest
from evcsm_link.client import ProtocolVersion, connect
from evcsm_schema.broker import BrokerUrl

from tests.support.broker import Mosquitto

PAYLOADS = [b"", b"{}", b"x" * 200, b"y" * 20_000, "ünïcode".encode()]
"""Remaining lengths of one, two and three bytes, and an empty payload."""


@pytest.mark.parametrize("version", [ProtocolVersion.V5, ProtocolVersion.V311], ids=["v5", "v311"])
async def test_many_messages_arrive_whole_and_in_order(
    broker: Mosquitto, version: ProtocolVersion
) -> None:
    url = BrokerUrl("127.0.0.1", broker.port)
    async with (
        connect(url, "watcher") as watcher,
        connect(url, "sender", version=version) as sender,
    ):
        await watcher.subscribe("evcsm/test/many", qos=0)
        info = sender.publish_many("evcsm/test/many", PAYLOADS)
        await sender.sent(info)
        assert info.is_published()
        sender.publish_nowait("evcsm/test/many", b"after", 0)  # paho's own path goes on after it
        received: list[tuple[str, bytes]] = []
        async with asyncio.timeout(10):
            async for message in watcher.messages:
                assert isinstance(message.payload, bytes)
                received.append((message.topic.value, message.payload))
                if len(received) == len(PAYLOADS) + 1:
                    break
    assert received == [("evcsm/test/many", payload) for payload in [*PAYLOADS, b"after"]]


async def test_publishing_many_without_a_connection_fails_clearly(broker: Mosquitto) -> None:
    sender = connect(BrokerUrl("127.0.0.1", broker.port), "unconnected")
    with pytest.raises(aiomqtt.MqttCodeError):
        sender.publish_many("evcsm/test/many", [b"{}"])
