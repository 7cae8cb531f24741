"""A tick's readings as JSON, written directly: the hot path of the MQTT bridge.

`SessionUpdate.of(session).to_json()` and `FleetReading.of(session, tick)` validate every field
of data the daemon produced itself, and at 10,000 sessions a second that was most of a tick's
CPU. These functions write the same bytes without a model: the fields in the models' order,
camelCase, absent when None, numbers as pydantic writes them, and times through pydantic's own
serializer, once per distinct time. Tests compare them byte for byte with the models' output,
for arbitrary sessions, so the contract stays the schema's.
"""

import functools
import json
from datetime import datetime

from evcsm_schema import ChargingSession
from pydantic import AwareDatetime, TypeAdapter

_FLOAT = TypeAdapter(float)
_TIME = TypeAdapter(AwareDatetime)
_CACHE = 1 << 16
"""Strings and times remembered: ids of a fleet of 10,000 sessions several times over."""


@functools.lru_cache(maxsize=_CACHE)
def text(value: str) -> str:
    """A JSON string, as pydantic writes it (UTF-8, control characters escaped)."""
    return json.dumps(value, ensure_ascii=False)


def number(value: float) -> str:
    """A JSON number as pydantic writes it: Python's shortest repr where the two agree (zero,
    and 1e-4 to 1e16, every energy and power this daemon produces), pydantic's own elsewhere."""
    if value == 0 or 1e-4 <= abs(value) < 1e16:
        return repr(float(value))
    return _FLOAT.dump_json(value).decode()


def time(value: datetime) -> str:
    """A JSON date-time string, as pydantic writes it."""
    # Keyed by the zone too: equal instants in two zones are equal datetimes, not equal text.
    return _time(value, value.tzinfo)


@functools.lru_cache(maxsize=_CACHE)
def _time(value: datetime, _zone: object) -> str:
    return _TIME.dump_json(value).decode()


def session_update(session: ChargingSession) -> bytes:
    """`SessionUpdate.of(session).to_json()`."""
    return (
        f'{{"sessionId":{text(session.session_id)},"chargerId":{text(session.charger_id)},'
        f'"status":{text(session.status.value)},"energyConsumed":{number(session.energy_consumed)},'
        f'"powerKw":{number(session.power_kw)},"meterWh":{session.meter_wh},'
        f'"timestamp":{time(session.updated_at)}}}'
    ).encode()


def fleet_reading(session: ChargingSession, tick: datetime) -> bytes:
    """`FleetReading.of(session, tick).to_json()`."""
    own = "" if session.updated_at == tick else f',"timestamp":{time(session.updated_at)}'
    return (
        f'{{"sessionId":{text(session.session_id)},"chargerId":{text(session.charger_id)},'
        f'"energyConsumed":{number(session.energy_consumed)},"powerKw":{number(session.power_kw)},'
        f'"meterWh":{session.meter_wh}{own}}}'
    ).encode()


def fleet_update(tick: datetime, part: int, parts: int, readings: list[bytes]) -> bytes:
    """`FleetUpdate(timestamp=tick, part=part, parts=parts, readings=...).to_json()`, from
    readings written by `fleet_reading`."""
    head = f'{{"timestamp":{time(tick)},"part":{part},"parts":{parts},"readings":['.encode()
    return head + b",".join(readings) + b"]}"
