"""MQTT 5 clients logged in as the deployment's roles, and a way to prove a message never came.

A broker that refuses a message says nothing to anyone, so "never delivered" is shown with a
marker instead of a wait: the probe is published at QoS 1 (the broker has routed or dropped it
before it acknowledges), then the daemon role publishes a marker on `charging/updates`, which
every role may read. One broker delivers one subscriber's messages in order, so whatever the
reader has not received by the time the marker arrives, it will never receive.
"""

import asyncio
import json
import ssl
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiomqtt
from evcsm_link.requests import request_properties
from evcsm_schema import topics
from evcsm_schema.requests import ReplyPath

from tests.deploy.deployment import DAEMON_USER, Deployment

WAIT_S = 15.0
MARKER_TOPIC = topics.SEED_CHARGING


@dataclass
class RoleClient:
    """A connected client that records every (topic, payload) it receives."""

    client: aiomqtt.Client
    username: str
    client_id: str
    received: list[tuple[str, bytes]] = field(default_factory=list)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def subscribe(self, *filters: str) -> None:
        """Subscribe at QoS 1."""
        for topic_filter in filters:
            await self.client.subscribe(topic_filter, qos=1)

    async def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish at QoS 1 and wait for the broker's acknowledgement."""
        await self.client.publish(topic, payload, qos=1, retain=retain)

    async def request(self, topic: str, payload: bytes = b"{}") -> Any:
        """An MQTT 5 request with a response topic in this client's branch; the decoded reply."""
        path = ReplyPath.new(self.username, self.client_id, f"reply-{uuid.uuid4().hex[:8]}")
        await self.subscribe(path.topic)
        await self.client.publish(topic, payload, qos=1, properties=request_properties(path))
        return json.loads(await self.wait_on(path.topic))

    async def wait_for(self, payload: bytes) -> list[tuple[str, bytes]]:
        """Everything received up to and including the first message carrying `payload`."""
        return await self.wait_until(lambda _, body: body == payload)

    async def wait_on(self, topic: str) -> bytes:
        """The payload of the first message received on `topic`."""
        return (await self.wait_until(lambda on, _: on == topic))[-1][1]

    async def wait_until(self, match: Callable[[str, bytes], bool]) -> list[tuple[str, bytes]]:
        """Everything received up to and including the first (topic, payload) that matches."""
        async with asyncio.timeout(WAIT_S), self._arrived:
            while True:
                for index, (topic, body) in enumerate(self.received):
                    if match(topic, body):
                        return self.received[: index + 1]
                await self._arrived.wait()

    async def _collect(self) -> None:
        async for message in self.client.messages:
            body = message.payload if isinstance(message.payload, bytes) else b""
            async with self._arrived:
                self.received.append((message.topic.value, body))
                self._arrived.notify_all()


def unique_id(user: str) -> str:
    """A fresh client id for `user`."""
    return f"{user}-{uuid.uuid4().hex[:8]}"


def mqtt_client(
    port: int,
    username: str | None,
    password: str | None,
    client_id: str,
    tls_context: ssl.SSLContext | None = None,
) -> aiomqtt.Client:
    """An MQTT 5 client for the loopback broker."""
    return aiomqtt.Client(
        "127.0.0.1",
        port,
        username=username,
        password=password,
        identifier=client_id,
        protocol=aiomqtt.ProtocolVersion.V5,
        timeout=WAIT_S,
        tls_context=tls_context,
    )


@asynccontextmanager
async def role_client(
    port: int, deployment: Deployment, user: str, client_id: str | None = None
) -> AsyncIterator[RoleClient]:
    """`user` logged in with the password setup.sh generated, collecting what it receives."""
    ident = client_id or unique_id(user)
    async with mqtt_client(port, user, deployment.password(user), ident) as client:
        found = RoleClient(client, user, ident)
        task = asyncio.create_task(found._collect(), name=f"collect-{ident}")
        try:
            yield found
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@asynccontextmanager
async def role_clients(
    port: int, deployment: Deployment, *users: str
) -> AsyncIterator[dict[str, RoleClient]]:
    """One connected client per user, each subscribed to the marker topic."""
    async with AsyncExitStack() as stack:
        clients = {
            user: await stack.enter_async_context(role_client(port, deployment, user))
            for user in users
        }
        for client in clients.values():
            await client.subscribe(MARKER_TOPIC)
        yield clients


async def delivered(clients: dict[str, RoleClient], writer: str, reader: str, topic: str) -> bool:
    """Whether a message `writer` publishes on `topic` reaches `reader` (subscribed to it)."""
    probe = f"probe-{uuid.uuid4().hex}".encode()
    marker = f"marker-{uuid.uuid4().hex}".encode()
    await clients[writer].publish(topic, probe)
    await clients[DAEMON_USER].publish(MARKER_TOPIC, marker)
    seen = await clients[reader].wait_for(marker)
    return (topic, probe) in seen
