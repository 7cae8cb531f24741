"""The MQTT adapter: one broker connection, kept up with backoff, and request/response on it.

`MqttLink.run(sink)` connects, subscribes to the retained state topics and `evcsm/fleet/updates`,
and hands every decoded message to `sink`; when the connection drops it says so, waits a
jittered, growing delay and connects again (`evcsm_link.reconnect`), so the retained topics
rebuild the state. Commands and session queries are MQTT 5 requests (`evcsm_link.requests`):
the reply comes to this client's own branch under `evcsm/replies/{username}/{clientId}/` (the
only one the broker lets it read), matched by correlation data.

`Link` is the interface the screens use, so tests can plug in another implementation.
"""

import asyncio
import logging
import secrets
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Protocol, TypeVar

from evcsm_link.backoff import Backoff
from evcsm_link.client import Message, MqttClient, MqttError, ReasonCode, connect
from evcsm_link.reconnect import stay_connected
from evcsm_link.requests import Requester, Waiting, payload_of
from evcsm_schema import (
    CommandAction,
    CommandReply,
    CommandRequest,
    SessionQuery,
    SessionQueryReply,
    topics,
)
from evcsm_schema.broker import BrokerUrl
from evcsm_schema.requests import FINAL_WAIT_S, REPLY_WAIT_S
from evcsm_schema.session import DefaultStopReason
from pydantic import BaseModel

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
Sent = Callable[[], None]
"""Told that the broker has a request (its PUBACK came): the daemon is answering."""
RECONNECT = Backoff(first=0.5, cap=15.0)
"""Waits between connection attempts: shorter than the daemon's, a person is watching."""
STOP_REASON = DefaultStopReason.DASHBOARD
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

    async def query_sessions(
        self, query: SessionQuery, sent: Sent | None = None
    ) -> SessionQueryReply:
        """Ask the daemon for stored sessions; `sent` hears when the broker has the request."""
        ...


class MqttLink:
    """The dashboard's connection to the broker."""

    def __init__(
        self,
        broker: BrokerUrl,
        *,
        client_id: str | None = None,
        request_timeout: float = REPLY_WAIT_S,
        backoff: Backoff = RECONNECT,
    ) -> None:
        self.broker = broker
        self.client_id = client_id or f"evcsm-tui-{secrets.token_hex(4)}"
        self.request_timeout = request_timeout
        self.backoff = backoff
        self._client: MqttClient | None = None
        self._requests = Requester(broker.username, self.client_id)

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
        return self._requests.branch

    async def run(self, sink: Sink) -> None:
        """Connect, listen and reconnect until cancelled."""

        def attempt() -> MqttClient:
            sink(LinkChange(LinkStatus.CONNECTING))
            return connect(self.broker, self.client_id, keepalive=15)

        def lost(error: MqttError | None, _delay: float) -> None:
            detail = "the broker closed the connection"
            if error is not None:
                detail = str(error) or type(error).__name__
                log.warning("broker %s: %s", self.label, detail)
            sink(LinkChange(LinkStatus.DISCONNECTED, detail))

        await stay_connected(
            attempt, lambda client: self._serve(client, sink), policy=self.backoff, lost=lost
        )

    async def _serve(self, client: MqttClient, sink: Sink) -> None:
        """Listen on one connection until it ends."""
        try:
            await client.subscribe(list(SUBSCRIPTIONS))
            await self._requests.subscribe(client)
            self._client = client
            log.info("connected to %s as %s", self.label, self.client_id)
            sink(LinkChange(LinkStatus.CONNECTED))
            async for message in client.messages:
                self._dispatch(message, sink)
        finally:
            self._client = None
            # A final reply after a pending one may still come once reconnected: the daemon
            # keeps it for then. A first reply is lost with the connection.
            self._requests.replies.drop(NotConnected("the broker connection was lost"))

    async def command(
        self, charger_id: str, action: CommandAction, accepted: Accepted | None = None
    ) -> CommandReply:
        """Send a command and return the daemon's final reply (which may be an error reply).

        An OCPP charger answers in two steps: a first reply `pending` once it accepted, then the
        final one, with the same correlation data, when its session started or stopped (or the
        request failed). `accepted` hears of the first; the wait for the second is
        `FINAL_WAIT_S`.
        """
        topic = topics.charger_command(charger_id, action)
        reason = STOP_REASON if action is CommandAction.STOP else None
        payload = CommandRequest(reason=reason).model_dump_json(by_alias=True, exclude_none=True)
        async with AsyncExitStack() as request:
            raw, replies = await self._ask(request, topic, payload.encode(), "cmd")
            first = _read(raw, CommandReply)
            if first.final:
                return first
            if accepted is not None:
                accepted(first)
            try:
                async with asyncio.timeout(FINAL_WAIT_S):
                    return _read(await replies.next(), CommandReply)
            except TimeoutError as exc:
                raise RequestTimeout(
                    f"{charger_id} accepted the {action.value} but no outcome came within "
                    f"{FINAL_WAIT_S:g} s"
                ) from exc

    async def query_sessions(
        self, query: SessionQuery, sent: Sent | None = None
    ) -> SessionQueryReply:
        """Fetch stored sessions from the daemon; `sent` hears when the broker has the request."""
        payload = query.model_dump_json(by_alias=True, exclude_none=True).encode()
        async with AsyncExitStack() as request:
            raw, _ = await self._ask(request, topics.SESSION_QUERY, payload, "sessions", sent)
            return _read(raw, SessionQueryReply)

    def _dispatch(self, message: Message, sink: Sink) -> None:
        if self._requests.take(message):
            return
        event = decode(message.topic.value, payload_of(message))
        if event is not None:
            sink(event)

    async def _ask(
        self,
        request: AsyncExitStack,
        topic: str,
        payload: bytes,
        kind: str,
        sent: Sent | None = None,
    ) -> tuple[bytes, Waiting]:
        """Send a request and wait for its first reply, within the request timeout; the later
        replies are collected until `request` closes; `sent` hears when the broker accepted the
        request. RequestError when no usable reply comes."""
        client = self._client
        if client is None:
            raise NotConnected("not connected to the broker")
        try:
            async with asyncio.timeout(self.request_timeout):
                sent_request = await request.enter_async_context(
                    self._requests.request(client, topic, payload, kind)
                )
                if (refusal := self._refusal(topic, sent_request.ack)) is not None:
                    raise refusal
                if sent is not None:
                    sent()
                return await sent_request.replies.next(), sent_request.replies
        except TimeoutError as exc:
            raise RequestTimeout(
                f"no answer from the daemon within {self.request_timeout:g} s"
            ) from exc
        except MqttError as exc:
            raise NotConnected(f"the request could not be sent: {exc}") from exc

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


def _read(raw: bytes, reply_type: type[ReplyT]) -> ReplyT:
    """A reply decoded; BadReply when it cannot be."""
    try:
        return reply_type.model_validate_json(raw)
    except ValueError as exc:
        raise BadReply(f"the daemon's reply could not be read: {exc}") from exc
