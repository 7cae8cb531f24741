"""The daemon's outgoing messages: one bounded queue, drained in batches by one task.

The service's calls only enqueue (a tick never waits for the broker). The drain takes whatever
is queued, up to `BATCH` messages, hands each to paho without waiting (`publish_nowait`), and
then waits once: until the batch's last message is written and each of its QoS 1 messages is
acknowledged. A tick's thousands of messages thus cost one writer callback and one wait instead
of one each, and the queue stays bounded: what paho holds is never more than one batch.

A tick's QoS 0 updates on one topic are queued as one `Burst`. The queue holds at most `limit`
messages (a burst counts as its messages); what does not fit is dropped and counted, a tick's
burst whole: the next tick carries newer readings. Status events, retained states and late
replies are single `Outgoing` items, sent in the order queued.
"""

import asyncio
import logging
from collections import deque
from dataclasses import dataclass

import paho.mqtt.client as paho

from evcsm_daemon.mqtt.connection import Connection
from evcsm_daemon.mqtt.handlers import Reply
from evcsm_daemon.mqtt.inbox import send_reply

log = logging.getLogger(__name__)

OUTBOX_LIMIT = 100_000
"""Messages queued at most (ten ticks of 10,000 sessions)."""
BATCH = 2_000
"""Messages handed to paho before the drain waits for them to go out."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message waiting to be published."""

    topic: str
    payload: bytes
    qos: int
    retain: bool = False
    reply: Reply | None = None
    """A late reply: sent with its correlation data, within the broker's size limit."""
    correlation: bytes | None = None


@dataclass(frozen=True, slots=True)
class Burst:
    """QoS 0 messages on one topic, queued and dropped together (one tick's updates)."""

    topic: str
    payloads: list[bytes]


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
        self._items: deque[Outgoing | Burst] = deque()
        self._waiting = asyncio.Event()

    def put(self, item: Outgoing) -> None:
        """Queue one message, or drop it when the queue is full."""
        self._add(item, 1)

    def put_burst(self, topic: str, payloads: list[bytes]) -> None:
        """Queue QoS 0 messages on `topic` together, or drop them all when they do not fit."""
        if payloads:
            self._add(Burst(topic, payloads), len(payloads))

    def _add(self, item: Outgoing | Burst, count: int) -> None:
        if self.queued + count > self.limit:
            before, self.dropped = self.dropped, self.dropped + count
            if before == 0 or before // 1000 != self.dropped // 1000:
                log.warning("MQTT outbox full: %d messages dropped so far", self.dropped)
            return
        self._items.append(item)
        self.queued += count
        self._waiting.set()

    async def drain(self, client: Connection) -> None:
        """Publish what is queued, batch after batch, until cancelled."""
        while True:
            await self._waiting.wait()
            await self.send_queued(client, BATCH)

    async def send_queued(self, client: Connection, batch: int | None = None) -> None:
        """Publish queued messages (about `batch` of them; all when None) and wait for them."""
        last: paho.MQTTMessageInfo | None = None
        acknowledged: list[paho.MQTTMessageInfo] = []
        sent = 0
        while self._items and (batch is None or sent < batch):
            item = self._items.popleft()
            if isinstance(item, Burst):
                self.queued -= len(item.payloads)
                for payload in item.payloads:
                    last = client.publish_nowait(item.topic, payload, 0)
                sent += len(item.payloads)
                continue
            self.queued -= 1
            sent += 1
            if item.reply is not None:
                await send_reply(client, item.topic, item.correlation, item.reply)
                continue
            last = client.publish_nowait(item.topic, item.payload, item.qos, retain=item.retain)
            if item.qos:
                acknowledged.append(last)
        if not self._items:
            self._waiting.clear()
        self.published += sent
        if last is not None:
            await client.sent(last)
        for info in acknowledged:
            await client.sent(info)
