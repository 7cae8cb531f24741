"""What the daemon knows of each station and connector, and the charger state it shows.

Pure folds, as the dashboard folds its messages: `station_after(view, event, now)` and
`connector_after(view, event)` return a new view and never mutate the old one. `now` is the
daemon's clock, for "last message" (the station's own timestamps are on the events).

Status notifications may come late (queued while offline) or twice: a notification older than
the one applied is ignored, so the newest report wins whatever the arrival order, and a repeat
changes nothing. Connection events always apply: they are the central system's own observation.

`charger_status` maps all of it onto the one vocabulary clients see (`ChargerStatus`): a
disconnected station's connectors are Offline, a station-wide Unavailable or Faulted (connector
0) covers every connector, and otherwise the connector's own report counts, OCPP's Available
shown as Idle. A charger without a report yet (a session found in the store after a restart)
shows what its session says: Charging, or Idle.
"""

from dataclasses import dataclass, replace
from datetime import datetime

from evcsm_schema import ChargerState, ChargerStatus, ChargingSession

from evcsm_daemon.core.events import (
    ConnectorStatus,
    ConnectorStatusChanged,
    StationBooted,
    StationConnected,
    StationDisconnected,
)

NO_ERROR = "NoError"

STATUS_OF: dict[ConnectorStatus, ChargerStatus] = {
    ConnectorStatus.AVAILABLE: ChargerStatus.IDLE,
    ConnectorStatus.PREPARING: ChargerStatus.PREPARING,
    ConnectorStatus.CHARGING: ChargerStatus.CHARGING,
    ConnectorStatus.SUSPENDED_EV: ChargerStatus.SUSPENDED_EV,
    ConnectorStatus.SUSPENDED_EVSE: ChargerStatus.SUSPENDED_EVSE,
    ConnectorStatus.FINISHING: ChargerStatus.FINISHING,
    ConnectorStatus.RESERVED: ChargerStatus.RESERVED,
    ConnectorStatus.UNAVAILABLE: ChargerStatus.UNAVAILABLE,
    ConnectorStatus.FAULTED: ChargerStatus.FAULTED,
}
"""OCPP's connector states as clients see them: only Available is renamed (Idle)."""

STATION_WIDE = frozenset({ConnectorStatus.UNAVAILABLE, ConnectorStatus.FAULTED})
"""Connector 0 states that stand for every connector of the station."""


@dataclass(frozen=True, slots=True)
class Report:
    """The latest StatusNotification of a connector (or of the station: connector 0)."""

    status: ConnectorStatus
    at: datetime
    error_code: str | None = None
    """None when the station said NoError."""
    error_info: str | None = None


@dataclass(frozen=True, slots=True)
class StationView:
    """One charge point."""

    station_id: str
    online: bool = False
    vendor: str | None = None
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    last_seen: datetime | None = None
    report: Report | None = None
    """Connector 0's latest report."""


StationEvent = StationConnected | StationBooted | StationDisconnected | ConnectorStatusChanged


def report_of(event: ConnectorStatusChanged) -> Report:
    """A StatusNotification as a report; the error fields only when there is an error."""
    error = None if event.error_code == NO_ERROR else event.error_code
    details = [part for part in (event.info, event.vendor_error_code) if part]
    return Report(event.status, event.at, error, " / ".join(details) or None)


def newer(current: Report | None, event: ConnectorStatusChanged) -> Report | None:
    """The report after `event`: its own if it is not older than the current one."""
    if current is not None and event.at < current.at:
        return current
    return report_of(event)


def station_after(view: StationView, event: StationEvent, now: datetime) -> StationView:
    """The station after one of its events, received at `now`."""
    seen = now if view.last_seen is None else max(view.last_seen, now)
    if isinstance(event, StationConnected):
        return replace(view, online=True, last_seen=seen)
    if isinstance(event, StationDisconnected):
        return replace(view, online=False)
    if isinstance(event, StationBooted):
        return replace(
            view,
            online=True,
            vendor=event.vendor,
            model=event.model,
            serial=event.serial,
            firmware=event.firmware,
            last_seen=seen,
        )
    report = newer(view.report, event) if event.connector_id == 0 else view.report
    return replace(view, report=report, last_seen=seen)


def seen(view: StationView, now: datetime) -> StationView:
    """The station after any other message, received at `now`."""
    if view.last_seen is not None and view.last_seen >= now:
        return view
    return replace(view, last_seen=now)


def charger_status(
    station: StationView | None, report: Report | None, session: ChargingSession | None
) -> ChargerStatus:
    """What a charger shows; `station` is None for a charger that has none (simulated)."""
    charging = session is not None and session.active
    if station is not None:
        if not station.online:
            return ChargerStatus.OFFLINE
        if station.report is not None and station.report.status in STATION_WIDE:
            return STATUS_OF[station.report.status]
        if report is not None:
            return STATUS_OF[report.status]
    return ChargerStatus.CHARGING if charging else ChargerStatus.IDLE


def charger_state(
    charger_id: str,
    *,
    max_power_kw: float | None,
    station: StationView | None,
    simulation_speed: float | None = None,
    connector_id: int | None,
    report: Report | None,
    session: ChargingSession | None,
    now: datetime,
) -> ChargerState:
    """The state published for a charger: its status, session and, for OCPP, its station."""
    shown = ChargerState(
        charger_id=charger_id,
        max_power_kw=max_power_kw,
        status=charger_status(station, report, session),
        session=session,
        updated_at=now,
        simulation_speed=simulation_speed,
    )
    if station is None:
        return shown
    wide = station.report if station.report and station.report.error_code else None
    error = wide or (report if report and report.error_code else None)
    return shown.model_copy(
        update={
            "charge_point_id": station.station_id,
            "connector_id": connector_id,
            "vendor": station.vendor,
            "model": station.model,
            "serial_number": station.serial,
            "firmware_version": station.firmware,
            "last_message_at": station.last_seen,
            "error_code": error.error_code if error else None,
            "error_info": error.error_info if error else None,
        }
    )
