"""aiomqtt's client, with the broker's answer to a QoS 1 publish.

aiomqtt 2.5 waits for the PUBACK of a QoS 1 publish but drops its reason code, so a publish the
broker refused (MQTT 5: 0x87, not authorised by its ACL) looks delivered, and the requester only
learns of it when its deadline passes. paho 2.2 hands the reason code to `on_publish`, which
aiomqtt routes to `Client._on_publish`: `AckingClient` takes it from there, per message id.
"""

import asyncio
from typing import Any

import aiomqtt
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode


class AckingClient(aiomqtt.Client):
    """An aiomqtt client whose `publish_acked` returns the PUBACK's reason code."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401 - aiomqtt's signature
        super().__init__(*args, **kwargs)
        self._acks: dict[int, asyncio.Future[ReasonCode]] = {}

    async def publish_acked(
        self, topic: str, payload: bytes, *, properties: Properties | None = None
    ) -> ReasonCode:
        """Publish at QoS 1 and return the broker's reason code (`is_failure` when refused).

        Raises `aiomqtt.MqttError` when the message cannot be sent or the connection drops
        before the broker answers. Waits as long as that takes: the caller sets the deadline.
        """
        loop = asyncio.get_running_loop()
        # aiomqtt keeps paho's client private; the reason code exists only at this level.
        info = self._client.publish(topic, payload, qos=1, properties=properties)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
        ack: asyncio.Future[ReasonCode] = loop.create_future()
        self._acks[info.mid] = ack  # the PUBACK is read by this loop, so it cannot come first
        try:
            return await ack
        finally:
            self._acks.pop(info.mid, None)

    def _on_publish(
        self,
        client: mqtt.Client,
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
        client: mqtt.Client,
        userdata: Any,  # noqa: ANN401 - paho's callback signature
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None = None,
    ) -> None:
        for ack in self._acks.values():
            if not ack.done():
                ack.set_exception(aiomqtt.MqttError("the connection dropped before the PUBACK"))
        super()._on_disconnect(client, userdata, flags, reason_code, properties)
