"""MQTT 5 request/response carried by the client: the contract's `evcsm_schema.requests` on aiomqtt.

`request_properties` and `reply_properties` put a `ReplyPath` and the content type into the
PUBLISH properties, and `reply_path` reads a request's back out. `Replies` matches replies to
the requests waiting for them by correlation data (`Waiting`: one request's replies, a pending
one then the final one), and `Requester` is the client side on one connection: it subscribes to
its own reply branch, publishes each request with a fresh path, and hands the replies that
arrive to the request that waits for them.
"""

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

from evcsm_schema import topics
from evcsm_schema.requests import CONTENT_TYPE, ReplyPath
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from evcsm_link.client import Message, MqttClient, ReasonCode

log = logging.getLogger(__name__)


def request_properties(path: ReplyPath) -> Properties:
    """The PUBLISH properties of a request whose reply goes to `path`."""
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    properties.ResponseTopic = path.topic
    if path.correlation is not None:
        properties.CorrelationData = path.correlation
    return properties


def reply_properties(correlation: bytes | None) -> Properties:
    """The PUBLISH properties of a reply: the request's correlation data, the content type."""
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    properties.ContentType = CONTENT_TYPE
    if correlation is not None:
        properties.CorrelationData = correlation
    return properties


def correlation_of(message: Message) -> bytes | None:
    """A message's correlation data, if it carries any."""
    correlation = getattr(message.properties, "CorrelationData", None)
    return bytes(correlation) if isinstance(correlation, bytes | bytearray) else None


def reply_path(message: Message) -> ReplyPath | None:
    """Where a request asks to be answered (`ReplyPath.accept`): None when it does not ask,
    ValueError when it asks for a topic outside every reply branch."""
    response_topic = getattr(message.properties, "ResponseTopic", None)
    correlation = getattr(message.properties, "CorrelationData", None)
    return ReplyPath.accept(response_topic, correlation)


def payload_of(message: Message) -> bytes:
    """A message's payload as bytes (aiomqtt hands over what paho decoded)."""
    payload = message.payload
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return b"" if payload is None else str(payload).encode()


class Waiting:
    """The replies to one request, in the order they arrive."""

    def __init__(self) -> None:
        self._replies: deque[bytes] = deque()
        self._arrived = asyncio.Event()
        self._error: BaseException | None = None
        self.received = 0
        """How many replies arrived so far."""

    async def next(self) -> bytes:
        """The next reply's payload; raises what `Replies.drop` failed the request with."""
        while not self._replies:
            if self._error is not None:
                raise self._error
            self._arrived.clear()
            await self._arrived.wait()
        return self._replies.popleft()

    def _deliver(self, payload: bytes) -> None:
        self._replies.append(payload)
        self.received += 1
        self._arrived.set()

    def _fail(self, error: BaseException) -> None:
        self._error = error
        self._arrived.set()


class Replies:
    """Requests waiting for their replies, matched by correlation data."""

    def __init__(self) -> None:
        self._waiting: dict[bytes, Waiting] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    @contextmanager
    def expect(self, correlation: bytes) -> Iterator[Waiting]:
        """Collect the replies carrying `correlation` while the block runs."""
        waiting = self._waiting[correlation] = Waiting()
        try:
            yield waiting
        finally:
            if self._waiting.get(correlation) is waiting:
                del self._waiting[correlation]

    def deliver(self, correlation: bytes | None, payload: bytes) -> bool:
        """Hand a reply to its request; False when no request waits for it."""
        waiting = self._waiting.get(correlation) if correlation else None
        if waiting is None:
            return False
        waiting._deliver(payload)
        return True

    def drop(self, error: BaseException) -> None:
        """The connection is gone: fail the requests that got no reply yet with `error`.

        A request answered "pending" keeps waiting: the daemon keeps its final reply for the
        client's next connection (QoS 1, in the daemon's outbox).
        """
        for waiting in self._waiting.values():
            if not waiting.received:
                waiting._fail(error)


@dataclass(frozen=True, slots=True)
class Sent:
    """A request the broker took: its PUBACK reason code, and where its replies arrive."""

    ack: ReasonCode
    replies: Waiting


class Requester:
    """Requests from one client: replies come to its reply branch and find their request."""

    def __init__(self, username: str | None, client_id: str) -> None:
        self.username = username
        self.client_id = client_id
        self.branch = topics.reply_branch(username, client_id)
        """The filter that covers this client's replies."""
        self.replies = Replies()

    async def subscribe(self, client: MqttClient) -> None:
        """Listen on the reply branch (call once connected)."""
        await client.subscribe(self.branch, qos=1)

    def take(self, message: Message) -> bool:
        """Hand `message` to its request if it is a reply on this branch; False otherwise."""
        if not message.topic.matches(self.branch):
            return False
        if not self.replies.deliver(correlation_of(message), payload_of(message)):
            log.info("ignored a reply nobody waits for on %s", message.topic.value)
        return True

    @asynccontextmanager
    async def request(
        self, client: MqttClient, topic: str, payload: bytes, kind: str = "reply"
    ) -> AsyncIterator[Sent]:
        """Publish a request on `topic` (QoS 1) and collect its replies while the block runs.

        Raises `MqttError` when it cannot be sent. The broker's reason code tells whether it
        took the request (a failure, or 0x10 "no matching subscribers", means no reply comes).
        """
        path = ReplyPath.new(self.username, self.client_id, kind)
        assert path.correlation is not None  # noqa: S101 - ReplyPath.new always makes one
        with self.replies.expect(path.correlation) as waiting:
            ack = await client.publish_acked(topic, payload, properties=request_properties(path))
            yield Sent(ack, waiting)
