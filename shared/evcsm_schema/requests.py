"""MQTT 5 request/response as EVCSM speaks it, without a transport.

A client publishes a request (QoS 1) with two MQTT 5 properties: a response topic inside its
own reply branch, `evcsm/replies/{user}/{clientId}/...` (the only branch the broker lets it
read), and fresh correlation data. The daemon publishes its reply (QoS 1) on that topic, with
the same correlation data and the content type `application/json`. It answers only inside some
client's reply branch: anywhere else a reply could forge a retained state.

A start or stop that an OCPP charger accepted but has not carried out yet is answered twice,
with the same correlation data: at once `{"ok": true, "pending": true, "requestId": ...}`, then,
when the charger acted or the request failed, the final reply (`CommandReply`). A simulated
charger's is final at once.

This module builds the pieces (`ReplyPath.new`) and checks the response topic a request names
(`ReplyPath.accept`); a reply belongs to the request whose correlation data it carries. The
client side, which carries them over MQTT and hands each reply to the request that waits for it,
is `evcsm_link.requests`. Timeouts are plain seconds, and the caller waits: a client
waits `REPLY_WAIT_S` for a first reply and `FINAL_WAIT_S` for the final one after "pending"
(the daemon fails such a request itself well before, after `EVCSM_START_TIMEOUT`).
"""

import secrets
from dataclasses import dataclass

from evcsm_schema import topics

CONTENT_TYPE = "application/json"
"""The content type of every reply."""
CORRELATION_BYTES = 16
"""Length of the correlation data a request gets: random, so no reply is taken for another's."""
REPLY_WAIT_S = 10.0
"""How long a client waits for the first reply to a request, by default."""
FINAL_WAIT_S = 300.0
"""How long a client waits for the final reply after a "pending" one."""


@dataclass(frozen=True, slots=True)
class ReplyPath:
    """Where a request's reply goes: its response topic, and the correlation data it carries."""

    topic: str
    correlation: bytes | None = None

    @classmethod
    def new(cls, username: str | None, client_id: str, kind: str = "reply") -> "ReplyPath":
        """A response topic in the client's own reply branch, and fresh correlation data."""
        return cls(topics.reply_topic(username, client_id, kind), new_correlation())

    @classmethod
    def accept(cls, topic: object, correlation: object) -> "ReplyPath | None":
        """The path a request names, None when it names none (no reply is sent).

        Raises ValueError for a response topic the daemon may not reply on: one outside every
        reply branch, or not a valid topic name. Correlation data that is not bytes is dropped.
        """
        if not topic:
            return None
        if not isinstance(topic, str) or not topics.is_reply_topic(topic):
            raise ValueError(
                f"refused response topic {topic!r:.200}: replies go to a topic name under "
                f"{topics.REPLY_PREFIX}/"
            )
        return cls(topic, correlation if isinstance(correlation, bytes) else None)


def new_correlation() -> bytes:
    """Fresh correlation data for one request."""
    return secrets.token_bytes(CORRELATION_BYTES)
