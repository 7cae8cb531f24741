"""The one reconnect loop, on a real Mosquitto that goes away and comes back."""

import asyncio
import contextlib

import pytest
from evcsm_link.backoff import JITTER, Backoff
from evcsm_link.client import MqttClient, MqttError, connect
from evcsm_link.reconnect import stay_connected
from evcsm_schema.broker import BrokerUrl

from tests.support.broker import Mosquitto, free_port
from tests.support.process import eventually

POLICY = Backoff(first=0.05, cap=0.2)

pytestmark = pytest.mark.broker


class Recorder:
    """What `stay_connected` did: the connections it served and the losses it told of."""

    def __init__(self) -> None:
        self.served = 0
        self.losses: list[tuple[MqttError | None, float]] = []

    async def serve(self, client: MqttClient) -> None:
        self.served += 1
        async for _ in client.messages:
            pass

    def lost(self, error: MqttError | None, delay: float) -> None:
        self.losses.append((error, delay))

    async def has_served(self, count: int) -> bool:
        return self.served >= count

    async def has_lost(self, count: int) -> bool:
        return len(self.losses) >= count


async def test_a_lost_broker_is_reconnected_and_the_waits_start_again() -> None:
    port = free_port()
    seen = Recorder()
    broker = BrokerUrl("127.0.0.1", port)
    with Mosquitto(port=port) as mosquitto:
        task = asyncio.create_task(
            stay_connected(
                lambda: connect(broker, "reconnect-test"), seen.serve, policy=POLICY, lost=seen.lost
            ),
            name="test-stay-connected",
        )
        await eventually("connected", lambda: seen.has_served(1))
        mosquitto.stop()
        await eventually("three losses told", lambda: seen.has_lost(3))
        first, second, third = seen.losses[:3]
        assert isinstance(first[0], MqttError)
        # Doubling while the broker stays away: the ceilings are 0.05, 0.1, 0.2.
        for (_, delay), ceiling in zip((first, second, third), (0.05, 0.1, 0.2), strict=True):
            assert ceiling * (1 - JITTER) <= delay <= ceiling
        mosquitto.start()
        await eventually("connected again", lambda: seen.has_served(2))
        told = len(seen.losses)
        mosquitto.stop()
        await eventually("the next loss told", lambda: seen.has_lost(told + 1))
        # A connection came up in between: the count started again from the first wait.
        assert seen.losses[told][1] <= POLICY.first
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert task.cancelled()


async def test_another_failure_of_serve_ends_the_loop(broker: Mosquitto) -> None:
    async def broken(_: MqttClient) -> None:
        raise LookupError("not a connection problem")

    url = BrokerUrl("127.0.0.1", broker.port)
    with pytest.raises(LookupError):
        await stay_connected(
            lambda: connect(url, "reconnect-broken"), broken, policy=POLICY, lost=lambda *_: None
        )
