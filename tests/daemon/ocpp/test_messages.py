"""What charge points send, as events and answers."""

import logging
from datetime import UTC, datetime

import pytest
from evcsm_daemon.core.events import (
    AuthorizeRequested,
    ConnectorStatus,
    ConnectorStatusChanged,
    MeterSample,
    MeterValuesReported,
    TransactionStarted,
    TransactionStopped,
)
from ocpp.v16 import call

from tests.daemon.ocpp.conftest import Start
from tests.daemon.ocpp.peers import lab_charge_point, now, raw_station
from tests.daemon.ocpp.sink import RecordingSink

T1 = "2025-02-25T12:00:00Z"
T1_AT = datetime(2025, 2, 25, 12, tzinfo=UTC)


def sampled(value: str, **fields: str) -> dict[str, str]:
    return {"value": value, **fields}


async def test_status_per_connector_and_for_the_station(
    start_central: Start, sink: RecordingSink
) -> None:
    async with start_central() as (_, url), lab_charge_point(url, "CP1") as point:
        for connector, status in ((0, "Available"), (1, "Charging"), (2, "Faulted")):
            await point.call(
                call.StatusNotification(
                    connector_id=connector,
                    error_code="GroundFailure" if status == "Faulted" else "NoError",
                    status=status,
                    timestamp=T1 if connector == 1 else None,
                    info="ground fault" if status == "Faulted" else None,
                )
            )
        await sink.wait_for(ConnectorStatusChanged, lambda e: e.connector_id == 2)
    station, charging, faulted = sink.of(ConnectorStatusChanged)
    assert (station.connector_id, station.status) == (0, ConnectorStatus.AVAILABLE)
    assert (charging.status, charging.at) == (ConnectorStatus.CHARGING, T1_AT)
    assert (faulted.status, faulted.error_code, faulted.info) == (
        ConnectorStatus.FAULTED,
        "GroundFailure",
        "ground fault",
    )
    assert station.at.tzinfo is UTC


async def test_authorize_asks_the_sink(start_central: Start, sink: RecordingSink) -> None:
    sink.blocked_tags = frozenset({"STOLEN"})
    async with start_central() as (_, url), lab_charge_point(url, "CP1") as point:
        good = await point.call(call.Authorize(id_tag="TAG-1"))
        bad = await point.call(call.Authorize(id_tag="STOLEN"))
    assert good.id_tag_info == {"status": "Accepted"}
    assert bad.id_tag_info == {"status": "Blocked"}
    assert [event.id_tag for event in sink.of(AuthorizeRequested)] == ["TAG-1", "STOLEN"]


async def test_start_transaction_gets_the_sinks_id_and_a_repeat_the_same(
    start_central: Start, sink: RecordingSink
) -> None:
    start = call.StartTransaction(connector_id=1, id_tag="TAG-1", meter_start=52000, timestamp=T1)
    async with start_central() as (_, url), lab_charge_point(url, "CP1") as point:
        first = await point.call(start)
        again = await point.call(start)
        other = await point.call(
            call.StartTransaction(connector_id=2, id_tag="TAG-2", meter_start=7, timestamp=T1)
        )
    assert first.transaction_id == again.transaction_id
    assert other.transaction_id != first.transaction_id
    assert first.id_tag_info == {"status": "Accepted"}
    started = sink.of(TransactionStarted)[0]
    assert (started.station_id, started.connector_id, started.at) == ("CP1", 1, T1_AT)
    assert (started.meter_start_wh, started.id_tag, started.reservation_id) == (
        52000,
        "TAG-1",
        None,
    )
    keys = [event.idempotency_key for event in sink.of(TransactionStarted)]
    assert keys[0] == keys[1] != keys[2]


async def test_meter_values_in_wh_and_kwh_with_power_and_soc(
    start_central: Start, sink: RecordingSink
) -> None:
    async with start_central() as (_, url), lab_charge_point(url, "CP1") as point:
        await point.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=5,
                meter_value=[
                    {"timestamp": T1, "sampledValue": [sampled("52000")]},
                    {
                        "timestamp": "2025-02-25T12:00:10+01:00",
                        "sampledValue": [
                            sampled(
                                "52.0615", measurand="Energy.Active.Import.Register", unit="kWh"
                            ),
                            sampled("22.1", measurand="Power.Active.Import", unit="kW"),
                            sampled("7300", measurand="Power.Active.Import", unit="W", phase="L1"),
                            sampled("41.5", measurand="SoC", unit="Percent", location="EV"),
                            sampled("230.1", measurand="Voltage", unit="V"),
                        ],
                    },
                    {
                        "timestamp": T1,
                        "sampledValue": [sampled("16", measurand="Current.Import", unit="A")],
                    },
                    {
                        "timestamp": T1,
                        "sampledValue": [sampled("7400", measurand="Power.Active.Import")],
                    },
                ],
            )
        )
        report = await sink.wait_for(MeterValuesReported)
    assert (report.station_id, report.connector_id, report.transaction_id) == ("CP1", 1, 5)
    assert report.samples == (
        MeterSample(T1_AT, energy_wh=52000, power_kw=None, soc_percent=None),
        MeterSample(
            datetime(2025, 2, 25, 11, 0, 10, tzinfo=UTC),
            energy_wh=52061,
            power_kw=22.1,
            soc_percent=41.5,
        ),
        MeterSample(T1_AT, energy_wh=None, power_kw=7.4, soc_percent=None),
    )


async def test_stop_transaction_with_transaction_data(
    start_central: Start, sink: RecordingSink
) -> None:
    async with start_central() as (_, url), lab_charge_point(url, "CP1") as point:
        started = await point.call(
            call.StartTransaction(connector_id=1, id_tag="TAG-1", meter_start=1000, timestamp=T1)
        )
        stop = call.StopTransaction(
            meter_stop=12000,
            timestamp="2025-02-25T12:30:00Z",
            transaction_id=started.transaction_id,
            reason="EVDisconnected",
            id_tag="TAG-1",
            transaction_data=[
                {"timestamp": T1, "sampledValue": [sampled("1000", context="Transaction.Begin")]},
                {
                    "timestamp": "2025-02-25T12:30:00Z",
                    "sampledValue": [sampled("12", unit="kWh", context="Transaction.End")],
                },
            ],
        )
        answer = await point.call(stop)
        repeated = await point.call(stop)
    assert answer.id_tag_info == repeated.id_tag_info == {"status": "Accepted"}
    stopped = sink.of(TransactionStopped)[0]
    assert (stopped.transaction_id, stopped.meter_stop_wh, stopped.reason, stopped.id_tag) == (
        started.transaction_id,
        12000,
        "EVDisconnected",
        "TAG-1",
    )
    assert [sample.energy_wh for sample in stopped.samples] == [1000, 12000]
    assert stopped.at == datetime(2025, 2, 25, 12, 30, tzinfo=UTC)
    assert sink.stopped == {started.transaction_id}


async def test_an_unknown_transaction_stop_is_answered(
    start_central: Start, sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    async with start_central() as (_, url), raw_station(url, "CP1") as raw:
        reply = await raw.call(
            "StopTransaction", {"meterStop": 5, "timestamp": T1, "transactionId": 999}
        )
    assert reply == [3, "1", {}]
    assert sink.of(TransactionStopped)[0].transaction_id == 999
    assert any("unknown transaction 999" in r.getMessage() for r in caplog.records)


async def test_heartbeat_data_transfer_and_notifications(
    start_central: Start, sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="evcsm_daemon.chargers.ocpp")
    async with start_central() as (_, url), lab_charge_point(url, "CP1") as point:
        beat = await point.call(call.Heartbeat())
        transfer = await point.call(call.DataTransfer(vendor_id="com.acme", message_id="x"))
        firmware = await point.call(call.FirmwareStatusNotification(status="Installed"))
        diagnostics = await point.call(call.DiagnosticsStatusNotification(status="Uploaded"))
    assert abs(datetime.fromisoformat(beat.current_time) - datetime.now(UTC)).total_seconds() < 600
    assert transfer.status == "UnknownVendorId"
    assert firmware is not None
    assert diagnostics is not None
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "firmware: Installed" in messages
    assert "diagnostics upload: Uploaded" in messages


async def test_messages_before_a_boot_are_acted_on_for_a_known_station(
    start_central: Start, sink: RecordingSink
) -> None:
    async with start_central() as (_, url), raw_station(url, "CP2") as raw:
        reply = await raw.call(
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Preparing", "timestamp": now()},
        )
    assert reply == [3, "1", {}]
    assert sink.of(ConnectorStatusChanged)[0].station_id == "CP2"
