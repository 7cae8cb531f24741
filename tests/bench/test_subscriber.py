"""bench/subscriber.py: the fleet benchmark's QoS 0 subscriber, against a real Mosquitto."""

import asyncio

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from bench.subscriber import (
    Chunk,
    SubscriberError,
    cut,
    mqtt_string,
    packet,
    publish_message,
    subscribe_packet,
    subscribed,
)
from tests.support.broker import Mosquitto


def publish_packet(topic: str, payload: bytes) -> bytes:
    """A QoS 0 PUBLISH as a broker sends it (remaining length up to 4 bytes)."""
    return packet(0x30, mqtt_string(topic) + payload)


def test_packets_cut_across_reads_come_out_whole_and_in_order() -> None:
    big = b"x" * 20_000  # a three-byte remaining length
    stream = publish_packet("a/b", b"one") + publish_packet("c", big) + publish_packet("d", b"")
    buffer = bytearray()
    found: list[tuple[str, bytes]] = []
    for start in range(0, len(stream), 7):  # seven bytes a read, packets split anywhere
        buffer += stream[start : start + 7]
        packets, used = cut(buffer)
        del buffer[:used]
        found += [publish_message(first, body) for first, body in packets]
    assert found == [("a/b", b"one"), ("c", big), ("d", b"")]
    assert buffer == bytearray()


def test_a_malformed_length_or_a_qos1_publish_is_refused() -> None:
    with pytest.raises(SubscriberError, match="remaining length"):
        cut(bytearray(b"\x30\xff\xff\xff\xff\x01"))
    with pytest.raises(SubscriberError, match="QoS 1"):
        publish_message(0x32, b"\x00\x01t\x00\x01payload")


def test_subscribe_asks_for_qos_0() -> None:
    assert subscribe_packet(1, ["a/#"]) == b"\x82\x08\x00\x01\x00\x03a/#\x00"


async def test_it_receives_what_is_published_on_its_filters(broker: Mosquitto) -> None:
    async with subscribed(broker.port, "test-subscriber", ["s/+", "f"]) as chunks:
        publisher = paho.Client(CallbackAPIVersion.VERSION2, client_id="test-publisher")
        publisher.connect("127.0.0.1", broker.port)
        publisher.loop_start()
        try:
            await asyncio.sleep(0.2)  # the subscription is in place before anything is sent
            for number in range(500):
                publisher.publish("s/1" if number % 2 else "f", f"{number}".encode())
            publisher.publish("elsewhere", b"not for us")
            received: list[tuple[str, bytes]] = []
            chunk: Chunk
            async with asyncio.timeout(20):
                async for chunk in chunks:
                    assert chunk.arrived > 0
                    assert chunk.wall > 0
                    received += chunk.messages
                    if len(received) >= 500:
                        break
        finally:
            publisher.loop_stop()
            publisher.disconnect()
    assert [payload for _, payload in received] == [f"{n}".encode() for n in range(500)]
    assert {topic for topic, _ in received} == {"s/1", "f"}
