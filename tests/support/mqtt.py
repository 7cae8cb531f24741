"""A plain MQTT 5 test client: collect messages, make request/response calls."""

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiomqtt
from evcsm_link.client import MqttClient, connect
from evcsm_link.requests import correlation_of, payload_of, request_properties
from evcsm_schema import topics
from evcsm_schema.broker import BrokerUrl
from evcsm_schema.requests import ReplyPath, new_correlation

WAIT_S = 15.0


@dataclass
class Received:
    """One message as the test saw it."""

    topic: str
    payload: bytes
    retain: bool
    correlation: bytes | None
    at: float = field(default_factory=time.monotonic)
    """When it arrived (monotonic clock)."""

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class Probe:
    """A connected client that records every message it receives."""

    client: MqttClient
    client_id: str
    username: str | None = None
    messages: list[Received] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def wait_for(self, predicate: Callable[[Received], bool]) -> Received:
        """The first message (already received or arriving) that matches, within WAIT_S."""
        async with asyncio.timeout(WAIT_S), self._changed:
            while True:
                for message in self.messages:
                    if predicate(message):
                        return message
                await self._changed.wait()

    def on(self, topic: str) -> list[Received]:
        """Messages received on one topic so far."""
        return [m for m in self.messages if m.topic == topic]

    async def request(self, topic: str, payload: bytes | str = b"{}") -> Any:
        """Publish with a response topic and correlation data; return the decoded reply."""
        correlation = await self.ask(topic, payload)
        reply = await self.wait_for(lambda m: m.correlation == correlation)
        return reply.json()

    async def ask(self, topic: str, payload: bytes | str = b"{}") -> bytes:
        """Publish a request with a response topic; returns its correlation data."""
        correlation = new_correlation()
        await self.send(topic, payload, correlation)
        return correlation

    async def replies(self, correlation: bytes, count: int) -> list[Any]:
        """The first `count` replies to one request (a pending one gets two), decoded."""

        def answers() -> list[Received]:
            # Only what came to the reply branch: a probe subscribed to the request's own topic
            # receives the request too, with the same correlation data.
            return [
                m
                for m in self.messages
                if m.correlation == correlation and m.topic.startswith(topics.REPLY_PREFIX)
            ]

        await self.wait_for(lambda _: len(answers()) >= count)
        return [m.json() for m in answers()[:count]]

    async def send(
        self,
        topic: str,
        payload: bytes | str,
        correlation: bytes,
        response_topic: str | None = None,
    ) -> None:
        """Publish a request (QoS 1) whose reply goes to `response_topic` (this client's own)."""
        reply_to = response_topic or topics.reply_topic(self.username, self.client_id)
        path = ReplyPath(reply_to, correlation)
        await self.client.publish(topic, payload, qos=1, properties=request_properties(path))

    async def _collect(self) -> None:
        async for message in self.client.messages:
            received = Received(
                message.topic.value,
                payload_of(message),
                bool(message.retain),
                correlation_of(message),
            )
            async with self._changed:
                self.messages.append(received)
                self._changed.notify_all()


async def wait_until(condition: Callable[[], bool], within: float = WAIT_S) -> None:
    """Poll `condition` until it is true; TimeoutError after `within` seconds."""
    async with asyncio.timeout(within):
        for _ in itertools.count():
            if condition():
                return
            await asyncio.sleep(0.02)


@asynccontextmanager
async def probe(
    url_port: int,
    *subscriptions: str,
    will: aiomqtt.Will | None = None,
    client_id: str | None = None,
    username: str | None = None,
    password: str | None = None,
) -> AsyncIterator[Probe]:
    """A client on the loopback broker, subscribed to its reply branch and `subscriptions`;
    `username` and `password` log it in (anonymous without)."""
    ident = client_id or f"test-{uuid.uuid4().hex[:8]}"
    broker = BrokerUrl("127.0.0.1", url_port, username=username, password=password)
    async with connect(broker, ident, will=will) as client:
        found = Probe(client, ident, username)
        await client.subscribe(topics.reply_branch(username, ident), qos=1)
        for topic in subscriptions:
            await client.subscribe(topic, qos=1)
        task = asyncio.create_task(found._collect(), name=f"probe-{ident}")
        try:
            yield found
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
