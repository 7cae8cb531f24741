"""One broker connection, with the limits that keep a flood of messages from growing the daemon.

aiomqtt's client with five changes about what a client can make the daemon hold, and one
about what publishing costs:

- CONNECT announces a Maximum Packet Size (`MAX_PACKET_BYTES`): the broker drops anything larger
  instead of sending it, so no payload over it is ever read into memory.
- CONNECT announces a Receive Maximum (`RECEIVE_MAXIMUM`) and QoS 1 messages are acknowledged
  only once handled (`ack`): the broker keeps the rest of a QoS 1 flood in its own queue.
- QoS 0 messages, which no flow control covers, wait in a queue of at most `QOS0_QUEUE`; past it
  they are dropped and counted.
- A QoS 1 message past that queue and the Receive Maximum, which only a broker that ignores the
  Receive Maximum sends (Mosquitto 2.0.11 does, once acknowledgements flow), is answered at once
  with an `unavailable` error reply (`refuse`) and acknowledged: never carried out, and never
  acknowledged without a word.
- Leaving the connection for any reason but a broken link sends DISCONNECT with reason code 0x04,
  "disconnect with will message": the broker publishes the last will (retained `offline`), so no
  exit, clean or not, can leave a stale `online` behind.
- `publish_nowait` hands a message to paho without waiting for it, and `sent` waits for one
  message: a tick's thousands of messages are queued in one go and written by one writer
  callback, and the caller waits once, for the last of them, instead of once per message
  (aiomqtt's `publish` waits on an event and a timeout for each: four times the CPU).
  `publish_many` goes further for QoS 0 messages on one topic: it writes their PUBLISH packets,
  the bytes paho would write, into one buffer that paho queues and writes as one packet, instead
  of queueing, writing and calling back for each message (paho's `publish` and `loop_write`
  were half the daemon's CPU at 10,000 sessions).

The session is persistent (clean start off, `SESSION_EXPIRY_S`): QoS 1 commands published while
the daemon is away wait on the broker and are delivered when it connects again.

Mosquitto binds no client id to a user: any user who presents the daemon's client id takes its
session and disconnects it. So when the daemon logs in with a password its client id is the
configured one plus a suffix derived from that password (`client_id`): the same on every start
(the persistent session survives restarts), and unknowable to anyone who does not hold the
password.
"""

import asyncio
import contextlib
import hashlib
import hmac
import logging
import math
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, TypeAlias

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger(__name__)

MAX_PACKET_BYTES = 32 * 1024
"""Largest packet the daemon accepts from the broker (every valid request is far smaller)."""
RECEIVE_MAXIMUM = 64
"""QoS 1 messages the broker may send before the daemon acknowledges one."""
QOS0_QUEUE = 256
"""QoS 0 messages that may wait to be handled; more are dropped."""
SESSION_EXPIRY_S = 300
"""How long the broker keeps the daemon's session, and queues its commands, while it is away."""
MQTT_MAX_PACKET = 268_435_455
"""The largest packet MQTT can describe: the broker's limit when it announces none."""
PACKET_OVERHEAD = 64
"""Bytes of a reply packet besides its payload, topic and correlation data, rounded up."""
EXIT_WITH_WILL = ReasonCode(PacketTypes.DISCONNECT, "Disconnect with will message")
QOS0_PUBLISH = 0x30
"""The first byte of a PUBLISH packet, QoS 0, not retained, not a duplicate."""
SUFFIX_HEX = 20
"""Hex digits of the client id's secret suffix (80 bits)."""
Refusal: TypeAlias = Callable[[aiomqtt.Message], tuple[str, bytes, Properties] | None]
"""The error reply (topic, payload, properties) to a request there is no room for, if any."""


def _remaining_length(packet: bytearray, length: int) -> None:
    """Append MQTT's variable-length encoding of `length`."""
    while True:
        byte, length = length % 128, length // 128
        packet.append(byte | 0x80 if length else byte)
        if not length:
            return


def client_id(configured: str, username: str | None, password: str | None) -> str:
    """The client id the daemon connects with: `configured`, plus a secret suffix with a password.

    The suffix is an HMAC-SHA256 keyed with the password over the user name and `configured`:
    stable across restarts, different for every user and prefix, and no help in guessing the
    password (which the broker already holds as a hash).
    """
    if not password:
        return configured
    message = f"evcsm mqtt client id\x00{username or ''}\x00{configured}".encode()
    digest = hmac.new(password.encode(), message, hashlib.sha256).hexdigest()
    return f"{configured}-{digest[:SUFFIX_HEX]}"


def connect_properties() -> Properties:
    """The CONNECT properties: session expiry, receive maximum, maximum packet size."""
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = SESSION_EXPIRY_S
    properties.ReceiveMaximum = RECEIVE_MAXIMUM
    properties.MaximumPacketSize = MAX_PACKET_BYTES
    return properties


class Connection(aiomqtt.Client):
    """aiomqtt's client with bounded intake, acknowledgements after handling and a will on exit."""

    def __init__(self, *args: Any, refuse: Refusal | None = None, **kwargs: Any) -> None:  # noqa: ANN401 - aiomqtt's own arguments
        super().__init__(*args, **kwargs)
        self._client.manual_ack_set(True)  # noqa: FBT003 - paho's API takes a positional flag
        self._refuse = refuse
        self.broker_max_packet = MQTT_MAX_PACKET
        self.received = 0
        self.dropped = 0
        self.refused = 0

    def ack(self, message: aiomqtt.Message) -> None:
        """Acknowledge a QoS 1 message once it has been handled (or refused)."""
        if message.qos > 0:
            self._client.ack(message.mid, message.qos)

    def publish_nowait(
        self, topic: str, payload: bytes, qos: int, *, retain: bool = False
    ) -> paho.MQTTMessageInfo:
        """Queue a message for the socket's writer callback; `sent` waits for it."""
        info = self._client.publish(topic, payload, qos, retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
        return info

    def publish_many(self, topic: str, payloads: Sequence[bytes]) -> paho.MQTTMessageInfo:
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
        mid = client._mid_generate()
        info = paho.MQTTMessageInfo(mid)
        rc = client._packet_queue(QOS0_PUBLISH, packets, mid, 0, info)
        if rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_AGAIN):
            raise aiomqtt.MqttCodeError(rc, "Could not publish message")
        return info

    async def sent(self, info: paho.MQTTMessageInfo) -> None:
        """Wait until a message of `publish_nowait` is out: written to the socket (QoS 0) or
        acknowledged by the broker (QoS 1), however long that takes."""
        if info.is_published():
            return
        confirmation = asyncio.Event()
        with self._pending_call(info.mid, confirmation, self._pending_publishes):
            if info.is_published():  # written while the wait was being set up
                return
            await self._wait_for(confirmation.wait(), timeout=math.inf)

    def fits(self, topic: str, payload: bytes, correlation: bytes | None) -> bool:
        """Whether a publish of `payload` on `topic` stays within the broker's packet limit."""
        size = len(payload) + len(topic.encode()) + len(correlation or b"") + PACKET_OVERHEAD
        return size <= self.broker_max_packet

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
        client: paho.Client,  # noqa: ARG002 - paho's callback signature
        userdata: Any,  # noqa: ANN401, ARG002 - paho's callback signature
        message: paho.MQTTMessage,
    ) -> None:
        self.received += 1
        over = QOS0_QUEUE if message.qos == 0 else QOS0_QUEUE + RECEIVE_MAXIMUM
        if self._queue.qsize() >= over:
            if message.qos > 0:
                # Only a broker that ignores the Receive Maximum sends this one.
                self._refuse_unread(message)
            else:
                self._drop(message, "the queue is full")
            return
        try:
            self._queue.put_nowait(aiomqtt.Message._from_paho_message(message))
        except ValueError as exc:  # a topic aiomqtt refuses; a broker should never send one
            self._drop(message, str(exc))

    def _refuse_unread(self, message: paho.MQTTMessage) -> None:
        """Answer a QoS 1 request with an error reply without reading it, then acknowledge it."""
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
                RECEIVE_MAXIMUM,
                self.refused,
            )

    def _drop(self, message: paho.MQTTMessage, why: str) -> None:
        self.dropped += 1
        if message.qos > 0:
            self._client.ack(message.mid, message.qos)
        if self.dropped % 1000 == 1:
            log.warning("dropped an incoming message (%s): %d dropped so far", why, self.dropped)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Disconnect with the will (`offline`), then let aiomqtt release the connection."""
        if not self._disconnected.done():
            rc = self._client.disconnect(reasoncode=EXIT_WITH_WILL)
            if rc == paho.MQTT_ERR_SUCCESS:
                with contextlib.suppress(aiomqtt.MqttError):
                    await self._wait_for(self._disconnected, timeout=None)
        await super().__aexit__(exc_type, exc, tb)
