"""The daemon's broker connection: the shared client (`evcsm_link.client`) with the daemon's limits.

What a flood of messages can make the daemon hold is bounded (`INTAKE`): CONNECT announces a
Maximum Packet Size (`MAX_PACKET_BYTES`, the broker drops anything larger instead of sending it)
and a Receive Maximum (`RECEIVE_MAXIMUM`), QoS 1 messages are acknowledged only once handled, so
the broker keeps the rest of a QoS 1 flood in its own queue, and QoS 0 messages wait in a queue
of at most `QOS0_QUEUE`. A QoS 1 request past them, which only a broker that ignores the Receive
Maximum sends, is answered `unavailable` at once (`Inbox.refusal`) and acknowledged. Leaving the
connection sends the will (retained `offline`), so no exit can leave a stale `online` behind.

The session is persistent (clean start off, `SESSION_EXPIRY_S`): QoS 1 commands published while
the daemon is away wait on the broker and are delivered when it connects again.

Mosquitto binds no client id to a user: any user who presents the daemon's client id takes its
session and disconnects it. So when the daemon logs in with a password its client id is the
configured one plus a suffix derived from that password (`client_id`): the same on every start
(the persistent session survives restarts), and unknowable to anyone who does not hold the
password.
"""

import hashlib
import hmac

from evcsm_link.client import Intake, MqttClient, Refusal, Will, connect
from evcsm_schema import Availability, topics
from evcsm_schema.broker import BrokerUrl

MAX_PACKET_BYTES = 32 * 1024
"""Largest packet the daemon accepts from the broker (every valid request is far smaller)."""
RECEIVE_MAXIMUM = 64
"""QoS 1 messages the broker may send before the daemon acknowledges one."""
QOS0_QUEUE = 256
"""QoS 0 messages that may wait to be handled; more are dropped."""
SESSION_EXPIRY_S = 300
"""How long the broker keeps the daemon's session, and queues its commands, while it is away."""
INTAKE = Intake(
    max_packet_bytes=MAX_PACKET_BYTES,
    receive_maximum=RECEIVE_MAXIMUM,
    qos0_queue=QOS0_QUEUE,
    session_expiry_s=SESSION_EXPIRY_S,
)
OFFLINE = Will(topics.AVAILABILITY, Availability.OFFLINE.value.encode(), qos=1, retain=True)
"""The daemon's last will: retained `offline`."""
SUFFIX_HEX = 20
"""Hex digits of the client id's secret suffix (80 bits)."""


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


def daemon_client(broker: BrokerUrl, identifier: str, refuse: Refusal) -> MqttClient:
    """A client for one connection of the daemon: bounded intake, persistent session, will;
    `refuse` answers a request past the intake's bound."""
    return connect(
        broker, identifier, will=OFFLINE, will_on_exit=True, intake=INTAKE, refuse=refuse
    )
