"""The MQTT adapter: one broker connection, kept up with backoff, and request/response on it.

`MqttLink.run(sink)` connects, subscribes to the retained state topics and `evcsm/fleet/updates`,
and hands every decoded message to `sink`; when the connection drops it says so, waits a
jittered, growing delay and connects again, so the retained topics rebuild the state. Commands
and session queries are MQTT 5 requests: the reply comes to this client's own branch under
`evcsm/replies/{username}/{clientId}/` (the only one the broker lets it read), matched by
correlation data.

`Link` is the interface the screens use, so tests can plug in another implementation.
"""

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import aiomqtt
from evcsm_schema import (
    CommandAction,
    CommandReply,
    CommandRequest,
    SessionQuery,
    SessionQueryReply,
    topics,
)
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import BaseModel

from evcsm_tui.acks import AckingClient
from evcsm_tui.config import BrokerConfig
from evcsm_tui.errors import (
    BadReply,
    NobodyListens,
    NotAuthorised,
    NotConnected,
    Refused,
    RequestError,
    RequestTimeout,
)
from evcsm_tui.state import Inbound, LinkChange, LinkStatus
from evcsm_tui.wire import SUBSCRIPTIONS, decode

log = logging.getLogger(__name__)

Sink = Callable[[Inbound], None]
Accepted = Callable[[CommandReply], None]
"""Told of a command's first reply when it is `pending`: the charger accepted, acts later."""
PENDING_WAIT_S = 300.0
"""How long a command answered `pending` waits for its outcome; the daemon fails it sooner
(EVCSM_START_TIMEOUT, 60 s by default) and says so in the final reply."""
STOP_REASON = "Stopped from the dashboard"
"""The stop reason the daemon records for a stop sent from here."""
ReplyT = TypeVar("ReplyT", bound=BaseModel)

NOT_AUTHORISED = 0x87
NO_MATCHING_SUBSCRIBERS = 0x10


class Link(Protocol):
    """What the screens need from the broker connection."""

    @property
    def label(self) -> str:
        """Where the link connects to, for the header."""
        ...

    async def run(self, sink: Sink) -> None:
        """Keep connected until cancelled, handing every message to `sink`."""

    async def command(
        self, charger_id: str, action: CommandAction, accepted: Accepted | None = None
    ) -> CommandReply:
        """Ask the daemon to start or stop a charger and return its final reply; `accepted`
        hears of a "pending" first reply (an OCPP charger accepted, and acts later)."""
        ...

    async def query_sessions(self, query: SessionQuery) -> SessionQueryReply:
        """Ask the daemon for stored sessions."""
        ...


@dataclass(frozen=True)
class Backoff:
    """Reconnect delays: doubling from `initial` up to `maximum`, each drawn in its upper half."""

    initial: float = 0.5
    maximum: float = 15.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before reconnect attempt number `attempt` (0 for the first)."""
        ceiling = min(self.maximum, self.initial * 2 ** min(attempt, 32))
        return secrets.SystemRandom().uniform(ceiling / 2, ceiling)


class MqttLink:
    """The dashboard's connection to the broker."""

    def __init__(
        self,
        broker: BrokerConfig,
        *,
        client_id: str | None = None,
        request_timeout: float = 10.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.broker = broker
        self.client_id = client_id or f"evcsm-tui-{secrets.token_hex(4)}"
        self.request_timeout = request_timeout
        self.backoff = backoff or Backoff()
        self._client: AckingClient | None = None
        self._waiting: dict[bytes, asyncio.Future[bytes]] = {}
        self._finals: dict[bytes, asyncio.Future[bytes]] = {}
        """Commands answered `pending`, waiting for their final reply."""

    @property
    def label(self) -> str:
        """The broker address, without the password."""
        return self.broker.label

    @property
    def connected(self) -> bool:
        """True while a broker connection is up."""
        return self._client is not None

    @property
    def reply_branch(self) -> str:
        """The wildcard this client's replies arrive under."""
        return topics.reply_branch(self.broker.username, self.client_id)

    async def run(self, sink: Sink) -> None:
        """Connect, listen and reconnect until cancelled."""
        attempt = 0
        while True:
            sink(LinkChange(LinkStatus.CONNECTING))
            detail = "the broker closed the connection"
            try:
                async with self._connect() as client:
                    await client.subscribe(list(SUBSCRIPTIONS))
                    await client.subscribe(self.reply_branch, qos=1)
                    self._client = client
                    attempt = 0
                    log.info("connected to %s as %s", self.label, self.client_id)
                    sink(LinkChange(LinkStatus.CONNECTED))
                    async for message in client.messages:
                        self._dispatch(message, sink)
            except aiomqtt.MqttError as exc:
                detail = str(exc) or type(exc).__name__
                log.warning("broker %s: %s", self.label, detail)
            finally:
                self._client = None
                self._fail_waiting()
            sink(LinkChange(LinkStatus.DISCONNECTED, detail))
            await asyncio.sleep(self.backoff.delay(attempt))
            attempt += 1

    async def command(
        self, charger_id: str, action: CommandAction, accepted: Accepted | None = None
    ) -> CommandReply:
        """Send a command and return the daemon's final reply (which may be an error reply).

        An OCPP charger answers in two steps: a first reply `pending` once it accepted, then the
        final one, with the same correlation data, when its session started or stopped (or the
        request failed). `accepted` hears of the first; the wait for the second is
        `PENDING_WAIT_S`.
        """
        topic = topics.charger_command(charger_id, action)
        reason = STOP_REASON if action is CommandAction.STOP else None
        payload = CommandRequest(reason=reason).model_dump_json(by_alias=True, exclude_none=True)
        correlation = secrets.token_bytes(16)
        final: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._finals[correlation] = final
        try:
            first = await self._request(
                topic, payload.encode(), "cmd", CommandReply, correlation=correlation
            )
            if not first.pending:
                return first
            if accepted is not None:
                accepted(first)
            try:
                async with asyncio.timeout(PENDING_WAIT_S):
                    raw = await final
            except TimeoutError as exc:
                raise RequestTimeout(
                    f"{charger_id} accepted the {action.value} but no outcome came within "
                    f"{PENDING_WAIT_S:g} s"
                ) from exc
            return _read(raw, CommandReply)
        finally:
            self._finals.pop(correlation, None)

    async def query_sessions(self, query: SessionQuery) -> SessionQueryReply:
        """Fetch stored sessions from the daemon."""
        payload = query.model_dump_json(by_alias=True, exclude_none=True).encode()
        return await self._request(topics.SESSION_QUERY, payload, "sessions", SessionQueryReply)

    def _connect(self) -> AckingClient:
        return AckingClient(
            self.broker.host,
            self.broker.port,
            username=self.broker.username,
            password=self.broker.password,
            identifier=self.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            tls_params=self._tls(),
            keepalive=15,
            timeout=10,
        )

    def _tls(self) -> aiomqtt.TLSParameters | None:
        if not self.broker.tls:
            return None
        ca_file = self.broker.ca_file
        return aiomqtt.TLSParameters(ca_certs=str(ca_file) if ca_file else None)

    def _dispatch(self, message: aiomqtt.Message, sink: Sink) -> None:
        payload = _payload_bytes(message.payload)
        if message.topic.matches(self.reply_branch):
            correlation = getattr(message.properties, "CorrelationData", None)
            key = bytes(correlation) if correlation else b""
            future = self._waiting.get(key)
            if future is None or future.done():
                future = self._finals.get(key)  # the final reply after a pending one
            if future is None or future.done():
                log.info("ignored a reply nobody waits for on %s", message.topic.value)
            else:
                future.set_result(payload)
            return
        event = decode(message.topic.value, payload)
        if event is not None:
            sink(event)

    async def _request(
        self,
        topic: str,
        payload: bytes,
        kind: str,
        reply_type: type[ReplyT],
        *,
        correlation: bytes | None = None,
    ) -> ReplyT:
        client = self._client
        if client is None:
            raise NotConnected("not connected to the broker")
        correlation = correlation or secrets.token_bytes(16)
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        properties.ResponseTopic = topics.reply_topic(self.broker.username, self.client_id, kind)
        properties.CorrelationData = correlation
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting[correlation] = future
        try:
            async with asyncio.timeout(self.request_timeout):
                ack = await client.publish_acked(topic, payload, properties=properties)
                if (refusal := self._refusal(topic, ack)) is not None:
                    raise refusal
                raw = await future
        except TimeoutError as exc:
            raise RequestTimeout(
                f"no answer from the daemon within {self.request_timeout:g} s"
            ) from exc
        except aiomqtt.MqttError as exc:
            raise NotConnected(f"the request could not be sent: {exc}") from exc
        finally:
            self._waiting.pop(correlation, None)
        return _read(raw, reply_type)

    def _refusal(self, topic: str, ack: ReasonCode) -> RequestError | None:
        """Why the broker's PUBACK means no answer will come, or None when one may."""
        if ack.value == NOT_AUTHORISED:
            who = self.broker.username or "an anonymous login"
            return NotAuthorised(f"not authorised: the broker does not let {who} publish {topic}")
        if ack.is_failure:
            return Refused(f"the broker refused the request: {ack.getName()}")
        if ack.value == NO_MATCHING_SUBSCRIBERS:
            return NobodyListens(f"no daemon listens on this broker: nobody subscribes to {topic}")
        return None

    def _fail_waiting(self) -> None:
        """Fail the requests whose first reply is lost with the connection. A final reply
        after a pending one may still come once reconnected: the daemon keeps it for then."""
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(NotConnected("the broker connection was lost"))
        self._waiting.clear()


def _read(raw: bytes, reply_type: type[ReplyT]) -> ReplyT:
    """A reply decoded; BadReply when it cannot be."""
    try:
        return reply_type.model_validate_json(raw)
    except ValueError as exc:
        raise BadReply(f"the daemon's reply could not be read: {exc}") from exc


def _payload_bytes(payload: object) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if payload is None:
        return b""
    return str(payload).encode()
