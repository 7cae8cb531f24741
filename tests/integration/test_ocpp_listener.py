"""The daemon's OCPP listener: settings, start-up, a taken port, shutdown, an OCPP-only fleet."""

import asyncio
import socket

import httpx
import pytest
from evcsm_daemon.main import main
from ocpp.v16 import call

from tests.daemon.ocpp.peers import lab_charge_point
from tests.support.broker import Mosquitto, free_port
from tests.support.daemon import daemon_settings, running_daemon
from tests.support.ocpp import ocpp_url, until


async def test_an_ocpp_only_daemon_serves_charge_points(broker: Mosquitto) -> None:
    settings = daemon_settings(
        broker.url, chargers="", ocpp_addr="127.0.0.1:0", ocpp_charge_points="LAB-1"
    )
    async with running_daemon(settings) as daemon:
        assert daemon.central is not None
        assert daemon.service is not None
        service = daemon.service
        async with lab_charge_point(ocpp_url(daemon), "LAB-1") as point:
            assert (await point.boot()).status == "Accepted"
            await point.wait_for("TriggerMessage")
            await point.call(
                call.StatusNotification(connector_id=1, error_code="NoError", status="Available")
            )
            await until(lambda: "LAB-1-1" in service.charger_ids(), "the connector joined")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.http_port}") as http:
            chargers = (await http.get("/api/chargers")).json()
            assert [c["chargerId"] for c in chargers] == ["LAB-1-1"]
            seed = await http.post("/api/ChargingSessionAPI/start")
            assert seed.status_code == 404
            assert seed.json()["code"] == "unknown_charger"
            assert "EVCSM_DEFAULT_CHARGER" in seed.json()["detail"]


@pytest.mark.usefixtures("_restore_logging")
def test_a_taken_ocpp_port_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(
            [
                "--store-uri",
                "memory",
                "--http-addr",
                f"127.0.0.1:{free_port()}",
                "--ocpp-addr",
                f"127.0.0.1:{port}",
            ]
        )
    assert code == 1
    out = capsys.readouterr().out
    assert f"ERROR   evcsm_daemon: cannot listen on 127.0.0.1:{port}: Address already in use" in out
    assert "Traceback" not in out


async def test_shutdown_closes_station_connections(broker: Mosquitto) -> None:
    settings = daemon_settings(broker.url, ocpp_addr="127.0.0.1:0", ocpp_charge_points="LAB-1")
    async with running_daemon(settings) as daemon:
        url = ocpp_url(daemon)
        point_cm = lab_charge_point(url, "LAB-1")
        point = await point_cm.__aenter__()
        await point.boot()
    async with asyncio.timeout(10):
        await point._connection.wait_closed()
    assert point._connection.close_code == 1001
    await point_cm.__aexit__(None, None, None)
