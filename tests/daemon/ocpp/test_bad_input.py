"""Bad input is answered with the right CALLERROR; nothing crashes and nothing is acted on."""

import json
from typing import Any

import pytest
from evcsm_daemon.core.events import (
    ConnectorStatusChanged,
    StationConnected,
    StationDisconnected,
    TransactionStarted,
)
from websockets.exceptions import ConnectionClosed

from tests.daemon.ocpp.conftest import Start
from tests.daemon.ocpp.peers import lab_charge_point, raw_station
from tests.daemon.ocpp.sink import RecordingSink

T1 = "2025-02-25T12:00:00Z"
STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}


@pytest.mark.parametrize(
    ("frame", "unique_id"),
    [
        ("hello", "-1"),
        (b"\x00\x01", "-1"),
        ("{}", "-1"),
        ("[]", "-1"),
        ('"2"', "-1"),
        ("[" * 5000 + "]" * 5000, "-1"),
        ('[2,"n","Heartbeat",{"x":NaN}]', "-1"),
        ('[9,"abc","Heartbeat",{}]', "abc"),
        ('["2","abc","Heartbeat",{}]', "abc"),
        ('[true,"abc","Heartbeat",{}]', "abc"),
        ('[2,"abc","Heartbeat"]', "abc"),
        ('[2,"abc","Heartbeat",{},1]', "abc"),
        ('[2,"abc","Heartbeat",[]]', "abc"),
        ('[2,5,"Heartbeat",{}]', "-1"),
        ('[2,"' + "i" * 37 + '","Heartbeat",{}]', "i" * 37),
    ],
)
async def test_malformed_frames_are_formation_violations(
    start_central: Start, frame: str | bytes, unique_id: str
) -> None:
    async with start_central() as (_, url), raw_station(url, "CP1") as raw:
        await raw.send(frame)
        reply = await raw.reply()
        assert reply[:3] == [4, unique_id, "FormationViolation"]
        assert isinstance(reply[3], str)
        assert reply[4] == {}
        assert (await raw.call("Heartbeat", {}, "after"))[0] == 3


async def test_broken_and_unsolicited_answers_are_not_answered(start_central: Start) -> None:
    async with start_central() as (_, url), raw_station(url, "CP1") as raw:
        for frame in ("[3]", '[3,"x"]', '[4,"x","Oops"]', '[3,"nobody",{}]', '[4,"n","E","d",{}]'):
            await raw.send(frame)
        reply = await raw.call("Heartbeat", {}, "after")
        assert reply[:2] == [3, "after"]


@pytest.mark.parametrize(
    ("action", "payload", "code"),
    [
        ("FooBar", {}, "NotImplemented"),
        ("SecurityEventNotification", {"type": "x", "timestamp": T1}, "NotSupported"),
        ("Reset", {"type": "Hard"}, "NotSupported"),
        ("StatusNotification", {"connectorId": 1, "errorCode": "NoError"}, "ProtocolError"),
        ("StatusNotification", {**STATUS, "connectorId": "1"}, "TypeConstraintViolation"),
        ("StatusNotification", {**STATUS, "colour": "red"}, "FormationViolation"),
        ("StatusNotification", {**STATUS, "status": "Dancing"}, "PropertyConstraintViolation"),
        ("StatusNotification", {**STATUS, "connectorId": -1}, "PropertyConstraintViolation"),
        ("StatusNotification", {**STATUS, "connectorId": 33}, "PropertyConstraintViolation"),
        ("StatusNotification", {**STATUS, "timestamp": "yesterday"}, "PropertyConstraintViolation"),
        ("Authorize", {"idTag": "T" * 21}, "TypeConstraintViolation"),
        ("MeterValues", {"connectorId": 1, "meterValue": []}, "OccurenceConstraintViolation"),
        (
            "MeterValues",
            {"connectorId": 1, "meterValue": [{"timestamp": T1, "sampledValue": [{"value": "x"}]}]},
            "PropertyConstraintViolation",
        ),
        (
            "StartTransaction",
            {"connectorId": 0, "idTag": "T", "meterStart": 0, "timestamp": T1},
            "PropertyConstraintViolation",
        ),
        (
            "StartTransaction",
            {"connectorId": 1, "idTag": "T", "meterStart": -5, "timestamp": T1},
            "PropertyConstraintViolation",
        ),
        (
            "StopTransaction",
            {
                "meterStop": 5,
                "timestamp": T1,
                "transactionId": 1,
                "transactionData": [
                    {"timestamp": T1, "sampledValue": [{"value": "1e3", "unit": "Celsius"}]}
                ],
            },
            "PropertyConstraintViolation",
        ),
    ],
)
async def test_bad_requests_get_the_spec_error_and_no_event(
    start_central: Start,
    sink: RecordingSink,
    action: str,
    payload: dict[str, Any],
    code: str,
) -> None:
    async with start_central() as (_, url), raw_station(url, "CP1") as raw:
        reply = await raw.call(action, payload, "bad")
        assert reply[:3] == [4, "bad", code]
        assert (await raw.call("Heartbeat", {}, "after"))[:2] == [3, "after"]
    assert [type(event) for event in sink.events] == [StationConnected, StationDisconnected]


async def test_an_oversized_frame_closes_with_1009(
    start_central: Start, sink: RecordingSink
) -> None:
    async with start_central(max_frame_bytes=4096) as (_, url), raw_station(url, "CP1") as raw:
        await raw.send(
            json.dumps([2, "big", "DataTransfer", {"vendorId": "v", "data": "x" * 5000}])
        )
        with pytest.raises(ConnectionClosed) as closed:
            await raw.reply()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009
        gone = await sink.wait_for(StationDisconnected)
        assert "size limit (1009)" in gone.reason
        async with lab_charge_point(url, "CP1") as point:
            assert (await point.boot()).status == "Accepted"


async def test_a_failing_sink_is_an_internal_error_and_the_server_lives(
    start_central: Start, sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    sink.fail_on = TransactionStarted
    start = {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": T1}
    async with start_central() as (_, url), raw_station(url, "CP1") as raw:
        reply = await raw.call("StartTransaction", start, "s1")
        assert reply[:3] == [4, "s1", "InternalError"]
        assert (await raw.call("StatusNotification", STATUS, "s2"))[:2] == [3, "s2"]
        sink.fail_on = None
        assert (await raw.call("StartTransaction", start, "s3"))[2]["transactionId"] == 1
    failures = [r for r in caplog.records if "handling StartTransaction failed" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].exc_info is not None


async def test_requests_sent_back_to_back_are_handled_in_order(
    start_central: Start, sink: RecordingSink
) -> None:
    statuses = ["Preparing", "Charging", "SuspendedEV", "Charging", "Finishing", "Available"]
    async with start_central() as (_, url), raw_station(url, "CP1") as raw:
        for number, status in enumerate(statuses):
            await raw.send(
                json.dumps([2, str(number), "StatusNotification", {**STATUS, "status": status}])
            )
        answers = [await raw.answer_to(str(n)) for n in range(len(statuses))]
    assert [answer[:2] for answer in answers] == [[3, str(n)] for n in range(len(statuses))]
    assert [event.status for event in sink.of(ConnectorStatusChanged)] == statuses


async def test_a_silent_station_is_disconnected_after_two_heartbeats(
    start_central: Start, sink: RecordingSink
) -> None:
    async with (
        start_central(heartbeat_interval_s=1) as (_, url),
        raw_station(url, "CP1") as raw,
    ):
        gone = await sink.wait_for(StationDisconnected)
        assert gone.reason == "no message for 2 s"
        with pytest.raises(ConnectionClosed):
            await raw.reply()
