"""Session rules: how a session starts, takes meter readings and stops.

Every function returns a new immutable `ChargingSession`. Energy is always recomputed from the
meter register, never accumulated, and a reading below the last one is ignored (a register
never runs backwards, so such a reading is stale or a clock step, not a correction).
Times are cut to milliseconds, the precision MongoDB stores, so what is stored is what was sent.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from evcsm_schema import ChargingSession, SessionStatus
from evcsm_schema.session import DefaultStopReason

WH_PER_KWH = 1000


@dataclass(frozen=True, slots=True)
class MeterReading:
    """A charger's meter register (Wh) and its power (kW) at one moment."""

    wh: int
    power_kw: float


def to_ms(moment: datetime) -> datetime:
    """`moment` cut to whole milliseconds."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def energy_kwh(meter_start_wh: int, meter_wh: int) -> float:
    """Energy between two register values, in kWh, exact to the Wh."""
    return round((meter_wh - meter_start_wh) / WH_PER_KWH, 3)


def begin(
    charger_id: str, meter_start_wh: int, now: datetime, session_id: str | None = None
) -> ChargingSession:
    """A new active session on `charger_id`, its register at `meter_start_wh`."""
    at = to_ms(now)
    return ChargingSession(
        session_id=session_id or str(uuid.uuid4()),
        charger_id=charger_id,
        status=SessionStatus.CHARGING,
        start_time=at,
        energy_consumed=0.0,
        meter_start_wh=meter_start_wh,
        meter_wh=meter_start_wh,
        power_kw=0.0,
        updated_at=at,
    )


def observe(session: ChargingSession, reading: MeterReading, now: datetime) -> ChargingSession:
    """`session` after a meter reading taken at `now`."""
    return observe_at(session, reading.wh, reading.power_kw, to_ms(now))


def observe_at(session: ChargingSession, wh: int, power_kw: float, at: datetime) -> ChargingSession:
    """`observe` of the register `wh` and the power `power_kw` read at `at`, a time already cut
    to milliseconds: a tick cuts its time once for all its readings.

    The copy is not validated again: every field it changes is computed here from validated
    ones (a register no lower than the start, a power no lower than 0, an aware time).
    """
    if not session.active:
        return session
    meter_wh = wh if wh > session.meter_wh else session.meter_wh
    updated_at = session.updated_at
    return session.model_copy(
        update={
            "meter_wh": meter_wh,
            "energy_consumed": energy_kwh(session.meter_start_wh, meter_wh),
            "power_kw": round(power_kw, 3) if power_kw > 0 else 0.0,
            "updated_at": at if at > updated_at else updated_at,
        }
    )


def finish(
    session: ChargingSession, reading: MeterReading, now: datetime, reason: str | None
) -> ChargingSession:
    """`session` stopped at `now` with the final meter reading."""
    if not session.active:
        return session
    last = observe(session, reading, now)
    return last.model_copy(
        update={
            "status": SessionStatus.STOPPED,
            "end_time": max(last.updated_at, last.start_time),
            "power_kw": 0.0,
            "stop_reason": reason or DefaultStopReason.REQUEST,
        }
    )
