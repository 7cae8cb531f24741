"""The daemon's outbox against a real broker: a reply to a request does not wait behind the
outbox's QoS 1 messages, and messages made as they are sent arrive whole and in order."""

import asyncio

from evcsm_daemon.mqtt.outbox import Outbox, Outgoing
from evcsm_link.client import connect
from evcsm_schema.broker import BrokerUrl

from tests.support.broker import Mosquitto

STATES = 2_000
FIRST_ARRIVALS = 100
"""With every state handed to paho at once (the outbox's former bound of 200 unacknowledged),
a reply published as the first state arrives came after ~150 of them or more."""


def state(number: int) -> Outgoing:
    return Outgoing(f"evcsm/test/state/{number}", str(number).encode(), qos=1, retain=True)


async def test_a_reply_overtakes_the_retained_states_still_queued(broker: Mosquitto) -> None:
    url = BrokerUrl("127.0.0.1", broker.port)
    outbox = Outbox()
    outbox.put_series(range(STATES), state)
    async with connect(url, "watcher") as watcher, connect(url, "daemon") as daemon:
        await watcher.subscribe("evcsm/test/#", qos=0)
        drain = asyncio.create_task(outbox.drain(daemon), name="test-outbox")
        reply: asyncio.Task[None] | None = None
        arrivals: list[str] = []
        try:
            async with asyncio.timeout(30):
                async for message in watcher.messages:
                    arrivals.append(message.topic.value)
                    if reply is None:
                        reply = asyncio.create_task(
                            daemon.publish("evcsm/test/reply", b"done", qos=1), name="test-reply"
                        )
                    if len(arrivals) == STATES + 1:
                        break
            assert reply is not None
            await reply
        finally:
            drain.cancel()
    position = arrivals.index("evcsm/test/reply")
    assert position < FIRST_ARRIVALS, f"the reply came after {position} states"
    states = [topic for topic in arrivals if topic != "evcsm/test/reply"]
    assert states == [f"evcsm/test/state/{number}" for number in range(STATES)]
    assert outbox.published == STATES
    assert outbox.queued == 0
