"""A tick's readings as `FleetUpdate` payloads on `evcsm/fleet/updates`, none over a size limit.

Pure: the bridge publishes what `fleet_payloads` returns (in its outbox's steps). One message carries every active
session's reading, so a dashboard or an integrator receives one message a tick however large the
fleet, instead of one per session. A tick whose message would exceed `max_bytes` is split into
parts of whole readings, as even as the sizes allow, so that no part exceeds the broker's packet
limit (Mosquitto drops a larger message; its `max_packet_size` is 1 MiB in mosquitto.conf).
"""

import math
from collections.abc import Sequence
from datetime import datetime

from evcsm_schema import ChargingSession, topics

from evcsm_daemon.mqtt.readings import fleet_reading, fleet_update

MAX_FLEET_BYTES = 256 * 1024
"""The largest `FleetUpdate` payload: about 2,000 readings of ~130 bytes, far below 1 MiB."""
PACKET_OVERHEAD = 64
"""Bytes of a PUBLISH packet besides its topic and payload (header, lengths), rounded up."""


def payload_limit(broker_max_packet: int) -> int:
    """The largest payload to publish on `evcsm/fleet/updates` to a broker that takes packets up
    to `broker_max_packet` bytes (what it announced on connect)."""
    room = broker_max_packet - len(topics.FLEET_UPDATES.encode()) - PACKET_OVERHEAD
    return max(1, min(MAX_FLEET_BYTES, room))


class ReadingTooLarge(ValueError):
    """One reading alone does not fit the limit (it cannot, with the limit above)."""


def fleet_payloads(
    sessions: Sequence[ChargingSession], max_bytes: int = MAX_FLEET_BYTES
) -> list[bytes]:
    """The `FleetUpdate` payloads of one tick, in order; none when no session is active.

    The message's timestamp is the latest reading's (`fleet_time`); each reading is written
    once (`mqtt.readings.fleet_reading`) and `fleet_parts` groups them. The MQTT bridge takes
    the same steps, with the readings written a chunk at a time by its outbox.
    """
    if not sessions:
        return []
    tick = fleet_time(sessions)
    return fleet_parts(tick, [fleet_reading(session, tick) for session in sessions], max_bytes)


def fleet_time(sessions: Sequence[ChargingSession]) -> datetime:
    """A tick's time: its latest reading's. A tick reads every simulated meter at one moment,
    and a reading taken at another (an OCPP charger's last meter value) carries its own."""
    return max(session.updated_at for session in sessions)


def fleet_parts(
    tick: datetime, readings: list[bytes], max_bytes: int = MAX_FLEET_BYTES
) -> list[bytes]:
    """The `FleetUpdate` payloads of a tick at `tick` carrying `readings` (written by
    `fleet_reading` with that tick), split into parts when one would exceed `max_bytes`."""
    if not readings:
        return []
    whole = fleet_update(tick, 1, 1, readings)
    if len(whole) <= max_bytes:
        return [whole]
    chunks = _split(readings, math.ceil(len(whole) / max_bytes))
    while True:
        payloads = [
            fleet_update(tick, number, len(chunks), chunk)
            for number, chunk in enumerate(chunks, start=1)
        ]
        if all(len(payload) <= max_bytes for payload in payloads):
            return payloads
        if len(chunks) >= len(readings):
            raise ReadingTooLarge(f"a single reading exceeds {max_bytes} bytes")
        chunks = _split(readings, min(len(readings), len(chunks) * 2))


def _split(readings: list[bytes], parts: int) -> list[list[bytes]]:
    """`readings` in `parts` consecutive chunks whose lengths differ by at most one."""
    size, extra = divmod(len(readings), parts)
    chunks: list[list[bytes]] = []
    start = 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        chunks.append(readings[start:end])
        start = end
    return chunks
