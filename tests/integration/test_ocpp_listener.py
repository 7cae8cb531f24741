"""The daemon's OCPP listener: settings, start-up, a taken port, shutdown, an OCPP-only fleet."""

import asyncio
import shutil
import socket
import ssl
from pathlib import Path

import httpx
import pytest
from evcsm_daemon.main import main
from evcsm_daemon.runtime import ocpp_config
from ocpp.v16 import call

from tests.daemon.ocpp.peers import basic, lab_charge_point
from tests.support.broker import Mosquitto, free_port
from tests.support.daemon import daemon_settings, running_daemon
from tests.support.ocpp import ocpp_url, until
from tests.support.tls import self_signed


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


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
async def test_the_daemon_serves_wss_with_its_certificate_files(
    broker: Mosquitto, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    settings = daemon_settings(
        broker.url,
        ocpp_addr="127.0.0.1:0",
        ocpp_charge_points="LAB-1:s3cret",
        ocpp_cert_file=str(cert),
        ocpp_key_file=str(key),
    )
    client = ssl.create_default_context(cafile=str(cert))
    async with running_daemon(settings) as daemon:
        url = f"wss://127.0.0.1:{daemon.ocpp_port}/ocpp"
        headers = basic("LAB-1", "s3cret")
        async with lab_charge_point(url, "LAB-1", headers=headers, ssl_context=client) as point:
            assert (await point.boot()).status == "Accepted"


def test_certificate_files_that_do_not_load_are_one_line(tmp_path: Path) -> None:
    settings = daemon_settings(
        "mqtt://127.0.0.1:1",
        ocpp_addr="127.0.0.1:0",
        ocpp_cert_file=str(tmp_path / "missing.pem"),
        ocpp_key_file=str(tmp_path / "key.pem"),
    )
    with pytest.raises(OSError, match=r"cannot load the OCPP certificate .*missing\.pem with key"):
        ocpp_config(settings)
    (tmp_path / "junk.pem").write_text("not a certificate", encoding="utf-8")
    settings = settings.model_copy(
        update={
            "ocpp_cert_file": str(tmp_path / "junk.pem"),
            "ocpp_key_file": str(tmp_path / "junk.pem"),
        }
    )
    with pytest.raises(OSError, match="cannot load the OCPP certificate"):
        ocpp_config(settings)
