"""A minimal MQTT 3.1.1 subscriber for QoS 0 streams: the fleet benchmark's listener.

The listener stands for a consumer of the whole stream running elsewhere; on this machine it
shares a core with the broker. Through paho it took 53 % of that core at 10,000 updates a second
(a message object, its topic and callbacks, ~50 µs each), and the stream then drained at the
speed of what the broker was left with. This client reads the socket in large chunks and cuts
PUBLISH packets out of them (a few µs each); every message of a chunk arrives when the chunk
did. It speaks only what a QoS 0 subscriber needs: CONNECT, SUBSCRIBE, PINGREQ, and PUBLISH
received at QoS 0.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

PUBLISH = 0x30
CONNACK = 0x20
SUBACK = 0x90
PINGRESP = 0xD0
KEEPALIVE_S = 60
CHUNK = 1 << 20
"""Bytes read from the socket at once."""


class SubscriberError(Exception):
    """The broker refused the connection or the subscription, or broke the protocol."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """The messages cut out of one read of the socket, and when it returned."""

    arrived: float
    """`time.perf_counter()` when the read returned."""
    wall: float
    """`time.time()` at the same moment."""
    messages: list[tuple[str, bytes]]
    """(topic, payload), in the order received."""


def remaining_length(value: int) -> bytes:
    """MQTT's variable-length encoding of a packet's remaining length."""
    out = bytearray()
    while True:
        digit, value = value % 128, value // 128
        out.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(out)


def mqtt_string(text: str) -> bytes:
    """An MQTT UTF-8 string: its length in two bytes, then its bytes."""
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def packet(first: int, body: bytes) -> bytes:
    """A control packet: its first byte, its remaining length, its body."""
    return bytes([first]) + remaining_length(len(body)) + body


def connect_packet(client_id: str) -> bytes:
    """CONNECT, MQTT 3.1.1, clean session, no credentials."""
    body = (
        mqtt_string("MQTT")
        + bytes([4, 0x02])
        + KEEPALIVE_S.to_bytes(2, "big")
        + mqtt_string(client_id)
    )
    return packet(0x10, body)


def subscribe_packet(packet_id: int, filters: Sequence[str]) -> bytes:
    """SUBSCRIBE to `filters` at QoS 0."""
    body = packet_id.to_bytes(2, "big") + b"".join(mqtt_string(f) + b"\x00" for f in filters)
    return packet(0x82, body)


def cut(buffer: bytearray) -> tuple[list[tuple[int, bytes]], int]:
    """The complete packets at the start of `buffer` as (first byte, body), and how many bytes
    they take; an incomplete packet at the end is left for the next read."""
    packets: list[tuple[int, bytes]] = []
    at, size = 0, len(buffer)
    while at + 2 <= size:
        length, multiplier, index = 0, 1, at + 1
        while True:
            if index >= size:
                return packets, at
            digit = buffer[index]
            length += (digit & 0x7F) * multiplier
            multiplier *= 128
            index += 1
            if not digit & 0x80:
                break
            if multiplier > 128**3:
                raise SubscriberError("malformed remaining length")
        end = index + length
        if end > size:
            break
        packets.append((buffer[at], bytes(buffer[index:end])))
        at = end
    return packets, at


def publish_message(first: int, body: bytes) -> tuple[str, bytes]:
    """Topic and payload of a QoS 0 PUBLISH body."""
    if first & 0x06:
        raise SubscriberError("a QoS 1 or 2 PUBLISH to a QoS 0 subscription")
    length = int.from_bytes(body[:2], "big")
    return body[2 : 2 + length].decode(), body[2 + length :]


@contextlib.asynccontextmanager
async def subscribed(
    port: int, client_id: str, filters: Sequence[str]
) -> AsyncIterator[AsyncIterator[Chunk]]:
    """Connected to the broker on loopback `port` and subscribed to `filters`: the chunks as
    they arrive, until the context ends."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(connect_packet(client_id) + subscribe_packet(1, filters))
        await writer.drain()
        pinging = asyncio.create_task(_ping(writer), name="bench-subscriber-ping")
        try:
            yield _chunks(reader)
        finally:
            pinging.cancel()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _ping(writer: asyncio.StreamWriter) -> None:
    while True:
        await asyncio.sleep(KEEPALIVE_S / 2)
        writer.write(b"\xc0\x00")


async def _chunks(reader: asyncio.StreamReader) -> AsyncIterator[Chunk]:
    buffer = bytearray()
    while True:
        data = await reader.read(CHUNK)
        arrived, wall = time.perf_counter(), time.time()
        if not data:
            raise SubscriberError("the broker closed the connection")
        buffer += data
        packets, used = cut(buffer)
        del buffer[:used]
        messages: list[tuple[str, bytes]] = []
        for first, body in packets:
            kind = first & 0xF0
            if kind == PUBLISH:
                messages.append(publish_message(first, body))
            elif kind == CONNACK and body[1:2] != b"\x00":
                raise SubscriberError(f"the broker refused the connection ({body[1]})")
            elif kind == SUBACK and b"\x80" in body[2:]:
                raise SubscriberError("the broker refused a subscription")
        if messages:
            yield Chunk(arrived, wall, messages)
