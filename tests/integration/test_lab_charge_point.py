"""tools/charge_point.py, the charge point docs/ocpp.md offers for trying EVCSM without hardware,
run as its own process against the daemon: it boots, starts on its card, meters, and stops."""

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from tests.support.broker import Mosquitto
from tests.support.ocpp import Site, ocpp_site, until

TOOL = Path(__file__).resolve().parents[2] / "tools" / "charge_point.py"

pytestmark = pytest.mark.broker


async def charging_session(site: Site) -> dict[str, object]:
    """The lab charge point's session, once it is charging."""
    await until(
        lambda: any(s.charger_id == "LAB-1-1" for s in site.service.active_sessions()),
        "the card started a session",
    )
    response = await site.http.get("/api/sessions", params={"chargerId": "LAB-1-1"})
    items: list[dict[str, object]] = response.json()["items"]
    return items[0]


async def test_the_lab_charge_point_meters_a_session_from_its_card(broker: Mosquitto) -> None:
    async with ocpp_site(broker) as site:
        tool = await asyncio.create_subprocess_exec(
            sys.executable,
            str(TOOL),
            site.url,
            "LAB-1",
            "--rfid",
            "CARD-7",
            "--power-kw",
            "36",
            "--meter-interval",
            "1",
            "--register-wh",
            "5000",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            session = await charging_session(site)
            assert session["idTag"] == "CARD-7"
            assert session["meterStartWh"] == 5000
            # 36 kW is 10 Wh a second: two meter values later the register has moved on.
            await until(
                lambda: any(s.meter_wh >= 5020 for s in site.service.active_sessions()),
                "meter values raised the register",
            )
            stop = await site.http.post("/api/chargers/LAB-1-1/stop")
            assert stop.status_code in (200, 202), stop.text
            await until(
                lambda: not any(s.charger_id == "LAB-1-1" for s in site.service.active_sessions()),
                "the remote stop ended the session",
            )
            stopped = (await site.http.get(f"/api/sessions/{session['sessionId']}")).json()
            assert stopped["status"] == "Stopped"
            assert stopped["stopReason"]
            # The register counts on between meter values: the stop carries it, exact to the Wh.
            assert stopped["meterWh"] >= 5020
            assert stopped["energyConsumed"] == (stopped["meterWh"] - 5000) / 1000
        finally:
            if tool.returncode is None:
                tool.send_signal(signal.SIGINT)
            _, err = await asyncio.wait_for(tool.communicate(), 20)
        assert b"Traceback" not in err, err.decode()
