"""EVCSM daemon: owns charging sessions, meters them, and speaks MQTT and REST."""
