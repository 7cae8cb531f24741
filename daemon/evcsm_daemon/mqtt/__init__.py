"""The MQTT adapter: seed-compatible topics, retained state, request/response."""

from evcsm_daemon.mqtt.bridge import MqttBridge

__all__ = ["MqttBridge"]
