"""aiomqtt's client, wrapped once for every EVCSM program (the daemon, the dashboard, tests, bench).

Everything EVCSM needs beyond aiomqtt 2.5 lives here, so that a move to aiomqtt 3 (or to its
own reconnection) changes this module alone:

- `connect()` builds a client from the one broker type (`BrokerUrl`): MQTT 5, TLS verified with
  its CA bundle, TCP_NODELAY (without it a request or reply waits ~40 ms behind the delayed ACK
  of the packet sent before it).
- `publish_acked` returns the broker's PUBACK reason code, which aiomqtt drops: a publish the
  broker refused (0x87, not authorised) would otherwise look delivered.
- `publish_nowait` hands a message to paho without waiting for it, and `sent` waits for one
  message: many messages (a tick's thousands) are queued in one go and written by one writer
  callback, and the caller waits once, for the last of them, instead of once per message
  (aiomqtt's `publish` waits on an event and a timeout for each: four times the CPU).
  `publish_many` goes further for QoS 0 messages on one topic: it writes their PUBLISH packets,
  the bytes paho would write, into one buffer that paho queues and writes as one packet, instead
  of queueing, writing and calling back for each message (paho's `publish` and `loop_write`
  were half the daemon's CPU at 10,000 sessions).
- `broker_max_packet` is the Maximum Packet Size the broker announced on connect, and `fits`
  tells whether a publish stays within it.
- With an `Intake` (the daemon's): a persistent session, a Receive Maximum and a Maximum Packet
  Size announced on CONNECT, QoS 1 messages acknowledged only once handled (`ack`), and QoS 0
  messages held in a queue of bounded length, dropped and counted past it. A flood then waits
  on the broker instead of in the program's memory. A QoS 1 message past that queue and the
  Receive Maximum, which only a broker that ignores the Receive Maximum sends (Mosquitto 2.0.11
  does, once acknowledgements flow), is answered at once with the reply `refuse` gives (an error
  reply) and acknowledged: never carried out, and never acknowledged without a word.
- With `will_on_exit`, leaving the connection for any reason but a broken link sends DISCONNECT
  with reason code 0x04, "disconnect with will message": the broker publishes the last will, so
  no exit, clean or not, leaves a stale retained state behind.
"""

import asyncio
import contextlib
import logging
import math
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiomqtt
import paho.mqtt.client as paho
from evcsm_schema.broker import BrokerUrl
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

log = logging.getLogger(__name__)

MqttError = aiomqtt.MqttError
"""What the client raises when the broker cannot be reached or the connection drops."""
Message = aiomqtt.Message
Will = aiomqtt.Will
ProtocolVersion = aiomqtt.ProtocolVersion
Refusal = Callable[[Message], "tuple[str, bytes, Properties] | None"]
"""The reply (topic, payload, properties) to a request there is no room for, if it gets one."""
QOS0_PUBLISH = 0x30
"""The first byte of a PUBLISH packet, QoS 0, not retained, not a duplicate."""
Published = paho.MQTTMessageInfo
"""A message handed to paho by `publish_nowait`; `MqttClient.sent` waits until it is out."""
__all__ = [
    "Intake",
    "Message",
    "MqttClient",
    "MqttError",
    "Properties",
    "ProtocolVersion",
    "Published",
    "ReasonCode",
    "Refusal",
    "Will",
    "connect",
    "no_local",
]
MQTT_MAX_PACKET = 268_435_455
"""The largest packet MQTT can describe: the broker's limit when it announces none."""
PACKET_OVERHEAD = 64
"""Bytes of a PUBLISH packet besides its payload, topic and correlation data, rounded up."""
EXIT_WITH_WILL = ReasonCode(PacketTypes.DISCONNECT, "Disconnect with will message")
NO_DELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)


def no_local(qos: int = 1) -> SubscribeOptions:
    """Subscription options that leave out the subscriber's own publications."""
    return SubscribeOptions(qos=qos, noLocal=True)


@dataclass(frozen=True, slots=True)
class Intake:
    """What a program lets the broker send it at once, and how long its session lives."""

    max_packet_bytes: int
    """Largest packet accepted; the broker drops a larger one instead of sending it."""
    receive_maximum: int
    """QoS 1 messages the broker may send before one is acknowledged."""
    qos0_queue: int
    """QoS 0 messages that may wait to be handled; more are dropped."""
    session_expiry_s: int
    """How long the broker keeps the session, and queues its QoS 1 messages, while away."""

    def properties(self) -> Properties:
        """The CONNECT properties: session expiry, receive maximum, maximum packet size."""
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self.session_expiry_s
        properties.ReceiveMaximum = self.receive_maximum
        properties.MaximumPacketSize = self.max_packet_bytes
        return properties


class MqttClient(aiomqtt.Client):
    """aiomqtt's client with PUBACK reason codes, the broker's packet limit, and an optional
    bounded intake with acknowledgements after handling and a will on exit."""

    def __init__(
        self,
        *args: Any,  # noqa: ANN401 - aiomqtt's own arguments
        intake: Intake | None = None,
        will_on_exit: bool = False,
        refuse: Refusal | None = None,
        **kwargs: Any,  # noqa: ANN401 - aiomqtt's own arguments
    ) -> None:
        super().__init__(*args, **kwargs)
        self._intake = intake
        self._will_on_exit = will_on_exit
        self._refuse = refuse
        if intake is not None:
            self._client.manual_ack_set(True)  # noqa: FBT003 - paho's API takes a positional flag
        self._acks: dict[int, asyncio.Future[ReasonCode]] = {}
        self.broker_max_packet = MQTT_MAX_PACKET
        self.received = 0
        """Messages the broker delivered."""
        self.dropped = 0
        """Of those, how many were dropped unhandled (the intake queue was full)."""
        self.refused = 0
        """Of those, how many QoS 1 requests were answered unread (past the intake's bound)."""

    async def publish_acked(
        self, topic: str, payload: bytes, *, properties: Properties | None = None
    ) -> ReasonCode:
        """Publish at QoS 1 and return the broker's reason code (`is_failure` when refused).

        Raises `MqttError` when the message cannot be sent or the connection drops before the
        broker answers. Waits as long as that takes: the caller sets the deadline.
        """
        loop = asyncio.get_running_loop()
        # aiomqtt keeps paho's client private; the reason code exists only at this level.
        info = self._client.publish(topic, payload, qos=1, properties=properties)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
        ack: asyncio.Future[ReasonCode] = loop.create_future()
        self._acks[info.mid] = ack  # the PUBACK is read by this loop, so it cannot come first
        try:
            return await ack
        finally:
            self._acks.pop(info.mid, None)

    def publish_nowait(
        self, topic: str, payload: bytes, qos: int, *, retain: bool = False
    ) -> Published:
        """Queue a message for the socket's writer callback; `sent` waits for it."""
        info = self._client.publish(topic, payload, qos, retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
        return info

    def publish_many(self, topic: str, payloads: Sequence[bytes]) -> Published:
        """Queue QoS 0 messages on `topic`, not retained, as one write; `sent` waits for it."""
        client = self._client
        if not client.is_connected():
            raise aiomqtt.MqttCodeError(paho.MQTT_ERR_NO_CONN, "Could not publish message")
        name = topic.encode()
        head = len(name).to_bytes(2, "big") + name
        if client._protocol == paho.MQTTv5:
            head += b"\x00"  # no properties
        packets = bytearray()
        for payload in payloads:
            packets.append(QOS0_PUBLISH)
            _remaining_length(packets, len(head) + len(payload))
            packets += head
            packets += payload
        mid = client._mid_generate()  # what paho's publish does
        info = paho.MQTTMessageInfo(mid)
        rc = client._packet_queue(QOS0_PUBLISH, packets, mid, 0, info)
        if rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_AGAIN):
            raise aiomqtt.MqttCodeError(rc, "Could not publish message")
        return info

    async def sent(self, info: Published) -> None:
        """Wait until a message of `publish_nowait` is out: written to the socket (QoS 0) or
        acknowledged by the broker (QoS 1), however long that takes."""
        if info.is_published():
            return
        confirmation = asyncio.Event()
        with self._pending_call(info.mid, confirmation, self._pending_publishes):
            if info.is_published():  # written while the wait was being set up
                return
            await self._wait_for(confirmation.wait(), timeout=math.inf)

    def ack(self, message: aiomqtt.Message) -> None:
        """Acknowledge a QoS 1 message once it has been handled (or refused); with an intake."""
        if self._intake is not None and message.qos > 0:
            self._client.ack(message.mid, message.qos)

    def fits(self, topic: str, payload: bytes, correlation: bytes | None = None) -> bool:
        """Whether a publish of `payload` on `topic` stays within the broker's packet limit."""
        size = len(payload) + len(topic.encode()) + len(correlation or b"") + PACKET_OVERHEAD
        return size <= self.broker_max_packet

    @property
    def backlog(self) -> int:
        """Messages received and waiting to be handled."""
        return self._queue.qsize()

    def _on_connect(
        self,
        client: paho.Client,
        userdata: Any,  # noqa: ANN401 - paho's callback signature
        flags: paho.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None = None,
    ) -> None:
        limit = getattr(properties, "MaximumPacketSize", None)
        if isinstance(limit, int) and limit > 0:
            self.broker_max_packet = limit
        super()._on_connect(client, userdata, flags, reason_code, properties)

    def _on_message(
        self,
        client: paho.Client,
        userdata: Any,  # noqa: ANN401 - paho's callback signature
        message: paho.MQTTMessage,
    ) -> None:
        self.received += 1
        intake = self._intake
        if intake is None:
            super()._on_message(client, userdata, message)
            return
        over = intake.qos0_queue if message.qos == 0 else intake.qos0_queue + intake.receive_maximum
        if self._queue.qsize() >= over:
            if message.qos > 0:
                # Only a broker that ignores the Receive Maximum sends this one.
                self._refuse_unread(message, intake)
            else:
                self._drop(message, "the queue is full")
            return
        try:
            self._queue.put_nowait(aiomqtt.Message._from_paho_message(message))
        except ValueError as exc:  # a topic aiomqtt refuses; a broker should never send one
            self._drop(message, str(exc))

    def _refuse_unread(self, message: paho.MQTTMessage, intake: Intake) -> None:
        """Answer a QoS 1 request with `refuse`'s reply without reading it, then acknowledge it."""
        self.refused += 1
        reply = None
        if self._refuse is not None:
            with contextlib.suppress(ValueError):  # a topic aiomqtt refuses: no reply path
                reply = self._refuse(aiomqtt.Message._from_paho_message(message))
        if reply is not None:
            topic, payload, properties = reply
            if self.fits(topic, payload, getattr(properties, "CorrelationData", None)):
                self._client.publish(topic, payload, qos=1, properties=properties)
        self._client.ack(message.mid, message.qos)
        if self.refused % 1000 == 1:
            log.warning(
                "refused a request unread: more are waiting than the broker may send (Receive"
                " Maximum %d), so it ignores the limit; %d refused so far, each answered"
                " unavailable where it had a reply path",
                intake.receive_maximum,
                self.refused,
            )

    def _drop(self, message: paho.MQTTMessage, why: str) -> None:
        self.dropped += 1
        if message.qos > 0:
            self._client.ack(message.mid, message.qos)
        if self.dropped % 1000 == 1:
            log.warning("dropped an incoming message (%s): %d dropped so far", why, self.dropped)

    def _on_publish(
        self,
        client: paho.Client,
        userdata: Any,  # noqa: ANN401 - paho's callback signature
        mid: int,
        reason_code: ReasonCode,
        properties: Properties,
    ) -> None:
        ack = self._acks.get(mid)
        if ack is not None and not ack.done():
            ack.set_result(reason_code)
        super()._on_publish(client, userdata, mid, reason_code, properties)

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: Any,  # noqa: ANN401 - paho's callback signature
        flags: paho.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None = None,
    ) -> None:
        for ack in self._acks.values():
            if not ack.done():
                ack.set_exception(aiomqtt.MqttError("the connection dropped before the PUBACK"))
        super()._on_disconnect(client, userdata, flags, reason_code, properties)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """With `will_on_exit`, disconnect with the will first; then let aiomqtt release it."""
        if self._will_on_exit and not self._disconnected.done():
            rc = self._client.disconnect(reasoncode=EXIT_WITH_WILL)
            if rc == paho.MQTT_ERR_SUCCESS:
                with contextlib.suppress(aiomqtt.MqttError):
                    await self._wait_for(self._disconnected, timeout=None)
        await super().__aexit__(exc_type, exc, tb)


def _remaining_length(packet: bytearray, length: int) -> None:
    """Append MQTT's variable-length encoding of `length`."""
    while True:
        byte, length = length % 128, length // 128
        packet.append(byte | 0x80 if length else byte)
        if not length:
            return


def connect(
    broker: BrokerUrl,
    client_id: str,
    *,
    will: Will | None = None,
    will_on_exit: bool = False,
    intake: Intake | None = None,
    refuse: Refusal | None = None,
    keepalive: int = 60,
    timeout: float = 10.0,
    version: ProtocolVersion = ProtocolVersion.V5,
) -> MqttClient:
    """A client of `broker` as `client_id`; `async with` it to connect.

    MQTT 5 unless `version` says otherwise (request/response needs 5). With an `intake` the
    session is persistent (clean start off) and flow-controlled.
    """
    tls: ssl.SSLContext | None = None
    if broker.tls:
        cafile = str(broker.ca_file) if broker.ca_file is not None else None
        tls = ssl.create_default_context(cafile=cafile)
    session: dict[str, Any] = {}
    if intake is not None:
        session = {"clean_start": False, "properties": intake.properties()}
    return MqttClient(
        broker.host,
        broker.port,
        username=broker.username,
        password=broker.password,
        identifier=client_id,
        protocol=version,
        will=will,
        tls_context=tls,
        keepalive=keepalive,
        timeout=timeout,
        socket_options=NO_DELAY,
        intake=intake,
        will_on_exit=will_on_exit,
        refuse=refuse,
        **session,
    )
