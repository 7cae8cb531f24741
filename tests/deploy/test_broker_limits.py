"""The repo's mosquitto.conf limits what any client may send: its packet size limit, on a real broker."""

import asyncio
import contextlib

import aiomqtt
import pytest
from evcsm_schema import topics
from paho.mqtt.client import ConnectFlags
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from tests.deploy.clients import WAIT_S, mqtt_client, unique_id
from tests.deploy.deployment import OPERATOR_USER, Deployment
from tests.support.broker import Mosquitto

pytestmark = pytest.mark.broker

MAX_PACKET = 1024 * 1024


class AnnouncedLimit(aiomqtt.Client):
    """A client that records the Maximum Packet Size the broker announces in CONNACK."""

    announced: int | None = None

    def _on_connect(
        self,
        client: object,
        userdata: object,
        flags: ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None = None,
    ) -> None:
        self.announced = getattr(properties, "MaximumPacketSize", None)
        super()._on_connect(client, userdata, flags, reason_code, properties)  # type: ignore[arg-type]


async def test_the_broker_announces_its_packet_limit(
    locked_broker: Mosquitto, deployment: Deployment
) -> None:
    client = AnnouncedLimit(
        "127.0.0.1",
        locked_broker.port,
        username=OPERATOR_USER,
        password=deployment.password(OPERATOR_USER),
        identifier=unique_id(OPERATOR_USER),
        protocol=aiomqtt.ProtocolVersion.V5,
    )
    async with client:
        pass
    assert client.announced == MAX_PACKET


async def test_a_client_that_sends_more_is_disconnected(
    locked_broker: Mosquitto, deployment: Deployment
) -> None:
    password = deployment.password(OPERATOR_USER)
    async with mqtt_client(
        locked_broker.port, OPERATOR_USER, password, unique_id(OPERATOR_USER)
    ) as client:
        await client.publish(topics.SEED_CHARGING, b"x" * (MAX_PACKET // 2), qos=1)
        # The broker may cut the connection before the packet is written out: that is the point.
        with contextlib.suppress(aiomqtt.MqttError):
            await client.publish(topics.SEED_CHARGING, b"x" * MAX_PACKET, qos=0, timeout=5)
        with pytest.raises(aiomqtt.MqttError, match="Disconnected"):
            await asyncio.wait_for(drain(client), WAIT_S)


async def drain(client: aiomqtt.Client) -> None:
    """Read messages until the connection ends (raises MqttError)."""
    async for _ in client.messages:
        pass
