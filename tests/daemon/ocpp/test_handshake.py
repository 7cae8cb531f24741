"""Who gets in: boot accepted or rejected, passwords, subprotocol, path, identity, TLS."""

import ssl
from pathlib import Path

import pytest
from evcsm_daemon.core.events import (
    ConnectorStatusChanged,
    StationBooted,
    StationConnected,
    StationDisconnected,
)
from ocpp.v16 import call
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidMessage, InvalidStatus

from tests.daemon.ocpp.conftest import Start
from tests.daemon.ocpp.peers import OCPP16, basic, lab_charge_point, raw_station
from tests.daemon.ocpp.sink import RecordingSink
from tests.support.tls import self_signed


async def test_boot_is_accepted_and_configures_the_station(
    start_central: Start, sink: RecordingSink
) -> None:
    async with (
        start_central(meter_interval_s=15) as (central, url),
        lab_charge_point(url, "CP1") as point,
    ):
        answer = await point.boot()
        assert answer.status == "Accepted"
        assert answer.interval == central.config.heartbeat_interval_s
        booted = await sink.wait_for(StationBooted)
        assert (booted.vendor, booted.model, booted.serial, booted.firmware) == (
            "EVCSM",
            "Lab",
            "SN-1",
            "1.2.3",
        )
        (change,) = await point.wait_for("ChangeConfiguration")
        assert change == {"key": "MeterValueSampleInterval", "value": "15"}
        (trigger,) = await point.wait_for("TriggerMessage")
        assert trigger == {"requested_message": "StatusNotification"}
        assert central.connected == {"CP1"}
    disconnected = await sink.wait_for(StationDisconnected)
    assert disconnected.station_id == "CP1"
    kinds = [type(event) for event in sink.events]
    assert kinds[0] is StationConnected
    assert kinds[-1] is StationDisconnected


async def test_unknown_identity_is_rejected_at_boot_and_ignored(
    start_central: Start, sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        start_central(charge_points="CP1") as (central, url),
        lab_charge_point(url, "STRANGER") as point,
    ):
        answer = await point.boot()
        assert answer.status == "Rejected"
        async with raw_station(url, "STRANGER2") as raw:
            reply = await raw.call(
                "StatusNotification",
                {"connectorId": 1, "errorCode": "NoError", "status": "Available"},
            )
            assert reply[:3] == [4, "1", "SecurityError"]
        assert central.connected == frozenset()
    assert sink.events == []
    lines = [r for r in caplog.records if "STRANGER " in r.getMessage() + " "]
    assert len(lines) == 1


async def test_any_identity_with_a_wildcard(start_central: Start, sink: RecordingSink) -> None:
    async with (
        start_central(charge_points="*") as (_, url),
        lab_charge_point(url, "ANY-1") as point,
    ):
        assert (await point.boot()).status == "Accepted"


async def test_the_path_without_the_ocpp_prefix_is_accepted(
    start_central: Start, sink: RecordingSink
) -> None:
    async with (
        start_central() as (_, url),
        lab_charge_point(url.removesuffix("/ocpp"), "CP2") as point,
    ):
        assert (await point.boot()).status == "Accepted"


async def test_the_right_password_gets_in(start_central: Start, sink: RecordingSink) -> None:
    async with (
        start_central() as (_, url),
        lab_charge_point(url, "PW", headers=basic("PW", "s3cret")) as point,
    ):
        assert (await point.boot()).status == "Accepted"


@pytest.mark.parametrize(
    "headers",
    [None, basic("PW", "wrong"), basic("OTHER", "s3cret"), {"Authorization": "Basic !!"}],
    ids=["missing", "wrong password", "wrong user", "malformed"],
)
async def test_a_wrong_or_missing_password_is_401(
    start_central: Start, headers: dict[str, str] | None, caplog: pytest.LogCaptureFixture
) -> None:
    async with start_central() as (_, url):
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"{url}/PW", subprotocols=OCPP16, additional_headers=headers)
    assert refused.value.response.status_code == 401
    assert refused.value.response.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert len([r for r in caplog.records if "refused OCPP connection" in r.getMessage()]) == 1


@pytest.mark.parametrize(
    ("path", "subprotocols", "status", "reason"),
    [
        ("/ocpp/CP1", None, 400, "subprotocol ocpp1.6 is required"),
        ("/ocpp/CP1", ["ocpp2.0.1"], 400, "subprotocol ocpp1.6 is required"),
        ("/somewhere/else/CP1", OCPP16, 404, "path is not"),
        ("/ocpp/", OCPP16, 404, "path is not"),
        ("/ocpp/CP%201", OCPP16, 400, "charge point id must match"),
        ("/ocpp/-CP1", OCPP16, 400, "charge point id must match"),
        ("/ocpp/" + "C" * 49, OCPP16, 400, "charge point id must match"),
    ],
)
async def test_bad_handshakes_are_refused_with_a_reason(
    start_central: Start,
    path: str,
    subprotocols: list[str] | None,
    status: int,
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with start_central() as (central, _):
        with pytest.raises(InvalidStatus) as refused:
            await connect(
                f"ws://127.0.0.1:{central.port}{path}",
                subprotocols=subprotocols,  # type: ignore[arg-type]
            )
    assert refused.value.response.status_code == status
    assert reason in refused.value.response.body.decode()
    lines = [r.getMessage() for r in caplog.records if "refused OCPP connection" in r.getMessage()]
    assert len(lines) == 1
    assert reason in lines[0]


async def test_connections_beyond_the_limit_are_refused(start_central: Start) -> None:
    async with start_central(max_connections=1) as (_, url), lab_charge_point(url, "CP1"):
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"{url}/CP2", subprotocols=OCPP16)
        assert refused.value.response.status_code == 503


async def test_a_reconnect_takes_over_after_the_old_link_is_gone(
    start_central: Start, sink: RecordingSink
) -> None:
    async with start_central() as (central, url), lab_charge_point(url, "CP1"):
        await sink.wait_for(StationConnected)
        async with lab_charge_point(url, "CP1") as second:
            await second.call(
                call.StatusNotification(connector_id=1, error_code="NoError", status="Available")
            )
            await sink.wait_for(ConnectorStatusChanged)
            kinds = [type(event).__name__ for event in sink.events]
            assert kinds == [
                "StationConnected",
                "StationDisconnected",
                "StationConnected",
                "ConnectorStatusChanged",
            ]
            assert central.connected == {"CP1"}


async def test_wss_with_a_certificate_and_a_password(
    start_central: Start, sink: RecordingSink, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    async with start_central(ssl_context=server) as (_, url):
        assert url.startswith("wss://")
        async with lab_charge_point(
            url, "PW", headers=basic("PW", "s3cret"), ssl_context=client
        ) as point:
            assert (await point.boot()).status == "Accepted"
        with pytest.raises((OSError, TimeoutError, InvalidMessage)):
            await connect(f"{url.replace('wss', 'ws')}/CP1", subprotocols=OCPP16, open_timeout=5)
