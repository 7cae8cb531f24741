"""Mapping between `ChargingSession` and its SQLite row; the SQL of a history query's filters.

Times are stored as integer milliseconds since the Unix epoch (UTC), the precision the session
rules keep and MongoDB stores, so they sort and compare as numbers and read back exactly.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from evcsm_schema import ChargingSession, SessionQuery, SessionStatus

CHARGING = SessionStatus.CHARGING.value
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)
COLUMNS = (
    "id",
    "session_id",
    "charger_id",
    "status",
    "start_ms",
    "end_ms",
    "energy_consumed",
    "meter_start_wh",
    "meter_wh",
    "power_kw",
    "stop_reason",
    "updated_ms",
    "transaction_id",
    "charge_point_id",
    "connector_id",
    "id_tag",
)
INSERT = (
    f"INSERT INTO sessions ({', '.join(COLUMNS)})"  # noqa: S608 - constant column names
    f" VALUES ({', '.join('?' * len(COLUMNS))})"
)


def ms(moment: datetime) -> int:
    """An aware datetime as whole milliseconds since the epoch (sub-millisecond cut off)."""
    return (moment - EPOCH) // MS


def moment(millis: int) -> datetime:
    """Milliseconds since the epoch as an aware UTC datetime, exactly."""
    return EPOCH + millis * MS


def to_row(session: ChargingSession) -> tuple[Any, ...]:
    """The row to insert, in COLUMNS order."""
    return (
        session.id,
        session.session_id,
        session.charger_id,
        session.status.value,
        ms(session.start_time),
        ms(session.end_time) if session.end_time is not None else None,
        session.energy_consumed,
        session.meter_start_wh,
        session.meter_wh,
        session.power_kw,
        session.stop_reason,
        ms(session.updated_at),
        session.transaction_id,
        session.charge_point_id,
        session.connector_id,
        session.id_tag,
    )


def from_row(row: tuple[Any, ...]) -> ChargingSession:
    """A row, in COLUMNS order, as a session."""
    (id_, sid, charger, status, start, end, energy, meter_start, meter, power, reason, updated) = (
        row[:12]
    )
    transaction_id, charge_point_id, connector_id, id_tag = row[12:]
    return ChargingSession(
        id=id_,
        session_id=sid,
        charger_id=charger,
        status=SessionStatus(status),
        start_time=moment(start),
        end_time=moment(end) if end is not None else None,
        energy_consumed=energy,
        meter_start_wh=meter_start,
        meter_wh=meter,
        power_kw=power,
        stop_reason=reason,
        updated_at=moment(updated),
        transaction_id=transaction_id,
        charge_point_id=charge_point_id,
        connector_id=connector_id,
        id_tag=id_tag,
    )


def where(query: SessionQuery) -> tuple[str, tuple[Any, ...]]:
    """The WHERE clause of the query's filters and its parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    if query.charger_id is not None:
        clauses.append("charger_id = ?")
        params.append(query.charger_id)
    if query.status is not None:
        clauses.append("status = ?")
        params.append(query.status.value)
    if query.since is not None:
        clauses.append("start_ms >= ?")
        params.append(ms(query.since))
    if query.until is not None:
        clauses.append("start_ms < ?")
        params.append(ms(query.until))
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)
