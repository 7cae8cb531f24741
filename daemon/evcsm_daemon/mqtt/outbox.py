"""The daemon's outgoing messages: one bounded queue, drained by one task in small chunks.

The service's calls only enqueue (a tick never waits for the broker, nor for writing its
messages: they are written to JSON by the drain). The drain hands messages to paho without
waiting for each (`publish_nowait`), `CHUNK` at a time, and between chunks the event loop runs
whatever else is ready (a command, its reply), so a tick's thousands of messages never hold a
command up for long. QoS 1 messages are not waited for one by one: up to `UNACKED` may wait for
their acknowledgement before the drain waits for the oldest.

A tick's QoS 0 updates on one topic are queued as one `Burst`, and written to JSON chunk by
chunk as they are sent; a chunk goes to paho as one buffer of PUBLISH packets
(`MqttClient.publish_many`). A burst may instead gather its items' JSON first, chunk by chunk,
and make its messages of all of them (`assemble`: a tick's fleet message of every reading).
Messages made one per item, such as the retained states refreshed at a tick, are a `Series`,
made as they are sent. The queue holds at most `limit` messages (a burst counts as its
messages, an assembled one as one); what does not fit is dropped and counted, a tick's burst
whole: the next tick carries newer readings. Status events, retained states and late replies
are single `Outgoing` items, sent in the order queued.
"""

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from evcsm_link.client import MqttClient, Published
from evcsm_schema.requests import ReplyPath

from evcsm_daemon.mqtt.handlers import Reply
from evcsm_daemon.mqtt.inbox import send_reply

log = logging.getLogger(__name__)

OUTBOX_LIMIT = 100_000
"""Messages queued at most (ten ticks of 10,000 sessions)."""
CHUNK = 100
"""Messages made and handed to paho before the event loop runs again (under 1 ms of CPU)."""
UNACKED = 10
"""QoS 1 messages of the outbox that may wait for their acknowledgement while the drain goes on.
paho has at most 20 QoS 1 messages in flight (its default, and the Receive Maximum Mosquitto
announces) and holds any more in a queue, in order. The replies to requests are QoS 1 too,
published by the workers as they answer: were the outbox to fill paho's window (a tick's retained
states, every state on connect), a reply would wait for the acknowledgement of every state
queued before it. Half the window leaves the other half to the replies. The bound also keeps
paho's queue short: paho walks it whole on every acknowledgement (10,000 retained states queued
at once took 9 s of CPU)."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message waiting to be published."""

    topic: str
    payload: bytes
    qos: int
    retain: bool = False
    reply: Reply | None = None
    """A late reply: sent to `path` with its correlation data, within the broker's size limit."""
    path: ReplyPath | None = None


@dataclass(frozen=True, slots=True)
class Burst:
    """QoS 0 messages on one topic, queued and dropped together (one tick's updates): each item
    becomes a payload through `encode` as it is sent, or, with `assemble`, every item's JSON is
    made first and `assemble` makes the payloads of them."""

    topic: str
    items: Sequence[Any]
    encode: Callable[[Any], bytes]
    assemble: Callable[[list[bytes]], list[bytes]] | None = None


@dataclass(frozen=True, slots=True)
class Series:
    """Messages made one per item as they are sent (`message(item)`), queued and dropped
    together."""

    items: Sequence[Any]
    message: Callable[[Any], Outgoing]


def _as_is(payload: bytes) -> bytes:
    return payload


class Outbox:
    """A bounded FIFO of messages and the task body that publishes them."""

    def __init__(self, limit: int = OUTBOX_LIMIT) -> None:
        self.limit = limit
        self.queued = 0
        """Messages waiting now."""
        self.dropped = 0
        """Messages dropped since start because the queue was full."""
        self.published = 0
        """Messages handed to the connection since start."""
        self._items: deque[Outgoing | Burst | Series] = deque()
        self._waiting = asyncio.Event()

    def put(self, item: Outgoing) -> None:
        """Queue one message, or drop it when the queue is full."""
        self._add(item, 1)

    def put_burst(
        self,
        topic: str,
        items: Sequence[Any],
        encode: Callable[[Any], bytes] = _as_is,
        assemble: Callable[[list[bytes]], list[bytes]] | None = None,
    ) -> None:
        """Queue QoS 0 messages on `topic` together, or drop them all when they do not fit:
        `encode(item)` for each of `items` (the items are the payloads by default), or the
        payloads `assemble` makes of all of them."""
        if items:
            self._add(Burst(topic, items, encode, assemble), 1 if assemble else len(items))

    def put_series(self, items: Sequence[Any], message: Callable[[Any], Outgoing]) -> None:
        """Queue `message(item)` for each of `items`, made as they are sent, or drop them all
        when they do not fit."""
        if items:
            self._add(Series(items, message), len(items))

    def _add(self, item: Outgoing | Burst | Series, count: int) -> None:
        if self.queued + count > self.limit:
            before, self.dropped = self.dropped, self.dropped + count
            if before == 0 or before // 1000 != self.dropped // 1000:
                log.warning("MQTT outbox full: %d messages dropped so far", self.dropped)
            return
        self._items.append(item)
        self.queued += count
        self._waiting.set()

    async def drain(self, client: MqttClient) -> None:
        """Publish what is queued, as it comes, until cancelled."""
        unacked: deque[Published] = deque()
        while True:
            await self._waiting.wait()
            await self.send_queued(client, unacked)

    async def send_queued(
        self, client: MqttClient, unacked: deque[Published] | None = None
    ) -> None:
        """Publish everything queued now, and wait until it is written; with `unacked`, leave
        up to `UNACKED` QoS 1 messages in it unacknowledged, else wait for every one."""
        waiting = deque[Published]() if unacked is None else unacked
        limit = 0 if unacked is None else UNACKED
        while self._items:
            item = self._items.popleft()
            if isinstance(item, Burst):
                await self._send_burst(client, item)
            elif isinstance(item, Series):
                for start in range(0, len(item.items), CHUNK):
                    for each in item.items[start : start + CHUNK]:
                        self.queued -= 1
                        await self._send(client, item.message(each), waiting, limit)
                    await asyncio.sleep(0)
            else:
                self.queued -= 1
                await self._send(client, item, waiting, limit)
        self._waiting.clear()
        await self._settle(client, waiting, limit)

    async def _send(
        self, client: MqttClient, item: Outgoing, waiting: deque[Published], limit: int
    ) -> None:
        self.published += 1
        if item.reply is not None and item.path is not None:
            await send_reply(client, item.path, item.reply)
            return
        info = client.publish_nowait(item.topic, item.payload, item.qos, retain=item.retain)
        if item.qos:
            waiting.append(info)
        await self._settle(client, waiting, limit)

    async def _send_burst(self, client: MqttClient, burst: Burst) -> None:
        items, encode = burst.items, burst.encode
        if burst.assemble is not None:
            encoded: list[bytes] = []
            for start in range(0, len(items), CHUNK):
                encoded += [encode(item) for item in items[start : start + CHUNK]]
                await asyncio.sleep(0)
            self.queued -= 1
            payloads = burst.assemble(encoded)
            items, encode = payloads, _as_is
            self.queued += len(payloads)
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            self.queued -= len(chunk)
            self.published += len(chunk)
            await client.sent(client.publish_many(burst.topic, [encode(item) for item in chunk]))

    @staticmethod
    async def _settle(client: MqttClient, waiting: deque[Published], limit: int) -> None:
        """Forget the acknowledged messages of `waiting`; wait for the oldest past `limit`."""
        while waiting and (waiting[0].is_published() or len(waiting) > limit):
            await client.sent(waiting.popleft())
