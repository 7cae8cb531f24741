"""The pure folds of stations and connectors, and the status a charger shows: table-driven."""

from dataclasses import replace
from datetime import timedelta

import pytest
from evcsm_daemon.core.events import (
    ConnectorStatus,
    ConnectorStatusChanged,
    StationBooted,
    StationConnected,
    StationDisconnected,
)
from evcsm_daemon.core.fleet import (
    Report,
    StationEvent,
    StationView,
    charger_state,
    charger_status,
    newer,
    seen,
    station_after,
)
from evcsm_daemon.core.sessions import begin
from evcsm_schema import ChargerStatus

from tests.support.clock import T0

S = timedelta(seconds=1)


def status(
    connector: int, state: ConnectorStatus, at_s: int, error: str = "NoError"
) -> ConnectorStatusChanged:
    return ConnectorStatusChanged("ST", connector, T0 + at_s * S, state, error, None, None)


BOOT = StationBooted("ST", T0, "ACME", "Wallbox", "SN-9", "1.0")
ONLINE = StationView("ST", online=True, last_seen=T0)


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([], StationView("ST")),
        ([StationConnected("ST", T0, "10.0.0.9")], ONLINE),
        (
            [StationConnected("ST", T0, "x"), StationDisconnected("ST", T0, "closed")],
            replace(ONLINE, online=False),
        ),
        (
            [BOOT],
            replace(ONLINE, vendor="ACME", model="Wallbox", serial="SN-9", firmware="1.0"),
        ),
        (  # a repeated boot changes nothing more
            [BOOT, BOOT],
            replace(ONLINE, vendor="ACME", model="Wallbox", serial="SN-9", firmware="1.0"),
        ),
        (  # connector 0 is the station's own report
            [
                StationConnected("ST", T0, "x"),
                status(0, ConnectorStatus.FAULTED, 5, "GroundFailure"),
            ],
            replace(ONLINE, report=Report(ConnectorStatus.FAULTED, T0 + 5 * S, "GroundFailure")),
        ),
        (  # a late report, older than the one applied, is ignored
            [
                StationConnected("ST", T0, "x"),
                status(0, ConnectorStatus.AVAILABLE, 9),
                status(0, ConnectorStatus.UNAVAILABLE, 4),
            ],
            replace(ONLINE, report=Report(ConnectorStatus.AVAILABLE, T0 + 9 * S)),
        ),
        (  # another connector's report leaves the station's as it is
            [StationConnected("ST", T0, "x"), status(2, ConnectorStatus.CHARGING, 3)],
            ONLINE,
        ),
    ],
)
def test_station_fold(events: list[StationEvent], expected: StationView) -> None:
    view = StationView("ST")
    for event in events:
        view = station_after(view, event, T0)
    assert view == expected


def test_last_seen_never_goes_back() -> None:
    view = seen(StationView("ST"), T0 + 10 * S)
    assert seen(view, T0 + 5 * S).last_seen == T0 + 10 * S
    assert seen(view, T0 + 20 * S).last_seen == T0 + 20 * S
    later = station_after(view, StationConnected("ST", T0, "x"), T0 + 3 * S)
    assert later.last_seen == T0 + 10 * S


@pytest.mark.parametrize(
    ("reports", "expected"),
    [
        ([status(1, ConnectorStatus.PREPARING, 1)], Report(ConnectorStatus.PREPARING, T0 + S)),
        (  # in order
            [status(1, ConnectorStatus.PREPARING, 1), status(1, ConnectorStatus.CHARGING, 2)],
            Report(ConnectorStatus.CHARGING, T0 + 2 * S),
        ),
        (  # out of order: the newest wins whatever the arrival
            [status(1, ConnectorStatus.CHARGING, 2), status(1, ConnectorStatus.PREPARING, 1)],
            Report(ConnectorStatus.CHARGING, T0 + 2 * S),
        ),
        (  # repeated
            [status(1, ConnectorStatus.FINISHING, 3), status(1, ConnectorStatus.FINISHING, 3)],
            Report(ConnectorStatus.FINISHING, T0 + 3 * S),
        ),
        (  # an error with the station's details
            [
                ConnectorStatusChanged(
                    "ST", 1, T0, ConnectorStatus.FAULTED, "OverVoltage", "spike", "E42"
                )
            ],
            Report(ConnectorStatus.FAULTED, T0, "OverVoltage", "spike / E42"),
        ),
    ],
)
def test_connector_fold(reports: list[ConnectorStatusChanged], expected: Report) -> None:
    report: Report | None = None
    for event in reports:
        report = newer(report, event)
    assert report == expected


CHARGING = begin("ST-1", 0, T0)
BUSY = Report(ConnectorStatus.SUSPENDED_EV, T0)
FREE = Report(ConnectorStatus.AVAILABLE, T0)
FAULTED_STATION = replace(ONLINE, report=Report(ConnectorStatus.FAULTED, T0, "GroundFailure"))


@pytest.mark.parametrize(
    ("station", "report", "charging", "expected"),
    [
        (None, None, False, ChargerStatus.IDLE),  # simulated
        (None, None, True, ChargerStatus.CHARGING),
        (StationView("ST"), BUSY, True, ChargerStatus.OFFLINE),  # not connected
        (ONLINE, None, True, ChargerStatus.CHARGING),  # no report yet: the session says
        (ONLINE, None, False, ChargerStatus.IDLE),
        (ONLINE, FREE, False, ChargerStatus.IDLE),  # Available is Idle
        (ONLINE, BUSY, True, ChargerStatus.SUSPENDED_EV),
        (FAULTED_STATION, FREE, False, ChargerStatus.FAULTED),  # station-wide
        (
            replace(ONLINE, report=Report(ConnectorStatus.UNAVAILABLE, T0)),
            BUSY,
            True,
            ChargerStatus.UNAVAILABLE,
        ),
        (replace(ONLINE, report=FREE), BUSY, True, ChargerStatus.SUSPENDED_EV),
    ],
)
def test_charger_status(
    station: StationView | None, report: Report | None, charging: bool, expected: ChargerStatus
) -> None:
    assert charger_status(station, report, CHARGING if charging else None) is expected


def test_every_ocpp_state_has_a_charger_status() -> None:
    for state in ConnectorStatus:
        shown = charger_status(ONLINE, Report(state, T0), None)
        expected = "Idle" if state is ConnectorStatus.AVAILABLE else state.value
        assert shown.value == expected


def test_the_state_of_an_ocpp_charger_names_its_station_and_error() -> None:
    station = replace(
        FAULTED_STATION, vendor="ACME", model="Wallbox", serial="SN-9", firmware="1.0"
    )
    state = charger_state(
        "ST-1",
        max_power_kw=None,
        station=station,
        connector_id=1,
        report=FREE,
        session=None,
        now=T0,
    )
    assert state.status is ChargerStatus.FAULTED
    assert (state.charge_point_id, state.connector_id) == ("ST", 1)
    assert (state.vendor, state.model, state.serial_number, state.firmware_version) == (
        "ACME",
        "Wallbox",
        "SN-9",
        "1.0",
    )
    assert state.error_code == "GroundFailure"
    assert state.last_message_at == T0
    assert state.max_power_kw is None
    simulated = charger_state(
        "CP1",
        max_power_kw=22.0,
        station=None,
        connector_id=None,
        report=None,
        session=None,
        now=T0,
    )
    assert simulated.model_dump(exclude_none=True) == {
        "charger_id": "CP1",
        "max_power_kw": 22.0,
        "status": ChargerStatus.IDLE,
        "updated_at": T0,
    }
