"""Incoming messages: a fixed number of workers, each handling one message at a time.

Nothing one message carries can stop the daemon. Whatever fails while a message is handled or
answered is logged, answered when the request has a usable reply path, and acknowledged; it never
reaches the connection. A reply goes only to a valid topic name inside `evcsm/replies/`
(`evcsm_schema.requests.ReplyPath.accept`): the daemon may write the retained state topics, so a
reply anywhere else could forge a charger's state, and a topic the broker refuses would get the
daemon disconnected.

The daemon's publications wait for their acknowledgement however long it takes: behind a flood
the broker's PUBACK can queue for many seconds in the same TCP stream, and a timeout there would
only drop a live connection. A dead connection shows as a closed socket or a missed keepalive.

A retained message on a command topic is the broker replaying something published earlier, not a
command sent now: it is logged and ignored. The daemon clears one planted on `charging/updates`
(the only command topic it may write), so no client that subscribes later receives it either.
"""

import logging
import math
from collections.abc import Callable

from evcsm_link.client import Message, MqttClient, MqttError, Properties
from evcsm_link.requests import reply_path, reply_properties
from evcsm_schema import topics
from evcsm_schema.requests import ReplyPath

from evcsm_daemon.mqtt.handlers import Answer, Handlers, Reply, too_large

log = logging.getLogger(__name__)

WORKERS = 16
"""Messages handled at once; the rest wait in the connection's bounded queue or on the broker."""


class Inbox:
    """Handles what the daemon's subscriptions deliver."""

    def __init__(
        self,
        handlers: Handlers,
        follow: Callable[[Answer, ReplyPath], None] = lambda *_: None,
    ) -> None:
        self._handlers = handlers
        self._follow = follow
        """Called with an answer whose final reply comes later, and its reply path."""
        self.busy = 0
        self.handled = 0

    async def work(self, client: MqttClient) -> None:
        """One worker: handle messages one by one until the connection ends."""
        async for message in client.messages:
            self.busy += 1
            try:
                await self.handle(client, message)
            except Exception:  # supervisor boundary: one message never stops the daemon
                log.exception("failed to handle a message on %.200r", message.topic.value)
            finally:
                self.busy -= 1
                self.handled += 1
                client.ack(message)

    async def handle(self, client: MqttClient, message: Message) -> None:
        """Handle one message and send its reply, if it asks for one."""
        topic = message.topic.value
        payload = message.payload if isinstance(message.payload, bytes) else b""
        if message.retain:
            await self._refuse_replay(client, topic, payload)
            return
        try:
            path = reply_path(message)
        except ValueError as exc:
            log.warning("%s (a request on %.200r)", exc, topic)
            path = None
        try:
            answer = await self._handlers.dispatch(topic, payload, has_reply_path=path is not None)
        except Exception as exc:  # noqa: BLE001 - supervisor boundary: log, answer, keep running
            answer = Answer(self._handlers.failure(topic, exc))
        if answer.reply is not None and path is not None:
            await send_reply(client, path, answer.reply)
            if answer.follow is not None:
                self._follow(answer, path)

    def refusal(self, message: Message) -> tuple[str, bytes, Properties] | None:
        """The error reply to a request there was no room for (topic, payload, properties), if it
        asks for one at a usable reply path. A retained message is never answered."""
        if message.retain:
            return None
        try:
            path = reply_path(message)
        except ValueError:
            return None
        reply = self._handlers.busy(message.topic.value)
        if reply is None or path is None:
            return None
        return path.topic, reply.to_json(), reply_properties(path.correlation)

    @staticmethod
    async def _refuse_replay(client: MqttClient, topic: str, payload: bytes) -> None:
        if not payload:
            return
        log.warning(
            "ignored a retained message on %.200r: a command is never replayed"
            " (clear it with: mosquitto_pub -r -n -t '<topic>')",
            topic,
        )
        if topic == topics.SEED_CHARGING:
            try:
                await client.publish(topic, b"", qos=1, retain=True, timeout=math.inf)
            except MqttError as exc:
                log.warning("could not clear the retained message on %s: %s", topic, exc)
            else:
                log.info("cleared the retained message on %s", topic)


async def send_reply(client: MqttClient, path: ReplyPath, reply: Reply) -> None:
    """Publish `reply` on the request's response topic with its correlation data; an error
    reply in its place when it is over the broker's packet limit."""
    topic, correlation = path.topic, path.correlation
    body = reply.to_json()
    if not client.fits(topic, body, correlation):
        body = too_large(reply, len(body), client.broker_max_packet).to_json()
        if not client.fits(topic, body, correlation):
            log.warning(
                "reply to %.200r lost: even an error reply is over the broker's limit", topic
            )
            return
    try:
        await client.publish(
            topic, body, qos=1, properties=reply_properties(correlation), timeout=math.inf
        )
    except (MqttError, ValueError) as exc:
        log.warning("reply to %.200r lost: %s", topic, exc)
