"""Fixed chargers and sessions: the same figures every run, for unit and snapshot tests."""

from datetime import UTC, datetime, timedelta

from evcsm_schema import (
    ChargerState,
    ChargerStatus,
    ChargingSession,
    FleetReading,
    FleetUpdate,
    SessionStatus,
)

NOW = datetime(2026, 3, 2, 14, 30, 0, tzinfo=UTC)


def session(
    charger_id: str,
    number: int,
    *,
    started: timedelta,
    energy_kwh: float,
    power_kw: float = 0.0,
    ended: timedelta | None = None,
    reason: str | None = None,
) -> ChargingSession:
    """A session that started `started` before NOW and, with `ended`, stopped `ended` before."""
    start = NOW - started
    end = NOW - ended if ended is not None else None
    meter_start = 1_000_000 + number * 100_000
    return ChargingSession(
        session_id=f"{number:08x}-0000-4000-8000-{number:012x}",
        charger_id=charger_id,
        status=SessionStatus.STOPPED if end else SessionStatus.CHARGING,
        start_time=start,
        end_time=end,
        energy_consumed=energy_kwh,
        meter_start_wh=meter_start,
        meter_wh=meter_start + round(energy_kwh * 1000),
        power_kw=0.0 if end else power_kw,
        stop_reason=reason,
        updated_at=end or NOW - timedelta(seconds=1),
    )


def charger(charger_id: str, max_kw: float, last: ChargingSession | None = None) -> ChargerState:
    """A charger's retained state with `last` as its current or last session."""
    charging = last is not None and last.active
    return ChargerState(
        charger_id=charger_id,
        max_power_kw=max_kw,
        status=ChargerStatus.CHARGING if charging else ChargerStatus.IDLE,
        session=last,
        updated_at=last.updated_at if last else NOW - timedelta(hours=2),
    )


def reading(s: ChargingSession, *, energy_kwh: float, power_kw: float) -> FleetReading:
    """A reading of session `s`."""
    return FleetReading(
        session_id=s.session_id,
        charger_id=s.charger_id,
        energy_consumed=energy_kwh,
        power_kw=power_kw,
        meter_wh=s.meter_start_wh + round(energy_kwh * 1000),
    )


def update(
    s: ChargingSession, *, after: timedelta, energy_kwh: float, power_kw: float
) -> FleetUpdate:
    """A tick with one reading, of session `s`, `after` past its last reading."""
    return FleetUpdate(
        timestamp=s.updated_at + after,
        readings=[reading(s, energy_kwh=energy_kwh, power_kw=power_kw)],
    )


CP1_SESSION = session(
    "CP1", 1, started=timedelta(minutes=42, seconds=7), energy_kwh=14.8, power_kw=21.4
)
CP2_SESSION = session(
    "CP2",
    2,
    started=timedelta(hours=1, minutes=5),
    energy_kwh=6.25,
    ended=timedelta(minutes=12),
    reason="Stopped by operator",
)
CP3_SESSION = session(
    "CP3", 3, started=timedelta(minutes=3, seconds=30), energy_kwh=0.412, power_kw=7.1
)

FLEET = (
    charger("CP1", 22.0, CP1_SESSION),
    charger("CP2", 11.0, CP2_SESSION),
    charger("CP3", 7.4, CP3_SESSION),
    charger("DEPOT-04", 50.0),
)
"""Four chargers: two charging, one stopped, one never used."""

CP1_TICKS = tuple(
    update(
        CP1_SESSION,
        after=timedelta(seconds=i + 1),
        energy_kwh=14.8 + 0.006 * (i + 1),
        power_kw=21.4 - (i % 7) * 0.9 + (i % 3) * 0.4,
    )
    for i in range(60)
)
"""A minute of CP1 readings with a wavering power curve."""

HISTORY = (
    CP1_SESSION,
    CP3_SESSION,
    CP2_SESSION,
    session(
        "CP1",
        4,
        started=timedelta(hours=5),
        energy_kwh=31.72,
        ended=timedelta(hours=3, minutes=20),
        reason="Stopped by operator",
    ),
    session(
        "CP3",
        5,
        started=timedelta(hours=9),
        energy_kwh=5.904,
        ended=timedelta(hours=8, minutes=1),
        reason="Unexpected Disconnect",
    ),
    session(
        "DEPOT-04",
        6,
        started=timedelta(days=1, hours=2),
        energy_kwh=48.06,
        ended=timedelta(days=1),
        reason="Battery full",
    ),
    session(
        "CP2",
        7,
        started=timedelta(days=2, hours=1),
        energy_kwh=0.0,
        ended=timedelta(days=2),
        reason="Vehicle not charging",
    ),
)
"""Seven sessions over three days, two still charging."""


def station_charger(
    charger_id: str,
    status: ChargerStatus,
    last: ChargingSession | None = None,
    **fields: object,
) -> ChargerState:
    """An OCPP connector's retained state: its station's identity, no rated power."""
    station, _, connector = charger_id.rpartition("-")
    return ChargerState(
        charger_id=charger_id,
        status=status,
        session=last,
        updated_at=NOW - timedelta(seconds=5),
        charge_point_id=station,
        connector_id=int(connector),
        vendor="Alfen",
        model="Eve Double",
        serial_number="ACE0012345",
        firmware_version="6.4.0",
        last_message_at=NOW - timedelta(seconds=12),
        **fields,
    )


LAB_SESSION = session(
    "LAB-7-1", 11, started=timedelta(minutes=17), energy_kwh=5.204, power_kw=10.8
).model_copy(update={"transaction_id": 1042, "charge_point_id": "LAB-7", "connector_id": 1})

OCPP_FLEET = (
    charger("CP1", 22.0, CP1_SESSION),
    station_charger("LAB-7-1", ChargerStatus.CHARGING, LAB_SESSION),
    station_charger(
        "LAB-7-2",
        ChargerStatus.FAULTED,
        error_code="GroundFailure",
        error_info="RCD tripped / E42",
    ),
    station_charger("YARD-2-1", ChargerStatus.OFFLINE).model_copy(
        update={"last_message_at": NOW - timedelta(hours=3, minutes=4)}
    ),
    station_charger("YARD-3-1", ChargerStatus.IDLE),
)
"""A simulated charger beside OCPP connectors: charging, faulted, offline, available."""
