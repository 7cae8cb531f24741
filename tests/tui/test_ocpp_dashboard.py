"""The dashboard on a real daemon with an OCPP charge point: `s` and `x` wait for the charger."""

import asyncio
from datetime import UTC
from pathlib import Path

from evcsm_schema import Availability, CommandAction, CommandReply, ErrorCode, ErrorInfo
from evcsm_tui.app import EvcsmApp
from evcsm_tui.client import Accepted
from evcsm_tui.state import LinkChange, LinkStatus
from evcsm_tui.widgets.charger_table import ChargerTable
from ocpp.v16 import call

from tests.daemon.ocpp.peers import lab_charge_point, now
from tests.support.broker import Mosquitto
from tests.support.daemon import daemon_settings, running_daemon
from tests.support.ocpp import ocpp_url
from tests.tui.data import NOW, OCPP_FLEET
from tests.tui.fake import FixedLink
from tests.tui.harness import Notes, mqtt_app, ready, row, wait_until


async def test_start_and_stop_stay_pending_until_the_charger_confirms(
    broker: Mosquitto, tmp_path: Path
) -> None:
    settings = daemon_settings(
        broker.url, chargers="", ocpp_addr="127.0.0.1:0", ocpp_charge_points="LAB-1"
    )
    app = mqtt_app(broker.url, tmp_path)
    notes = Notes()
    async with (
        running_daemon(settings) as daemon,
        lab_charge_point(ocpp_url(daemon), "LAB-1") as point,
        app.run_test(size=(100, 30), message_hook=notes.hook) as pilot,
    ):
        await point.boot()
        await point.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Available")
        )
        await ready(pilot, app, "LAB-1-1")
        assert app.screen.query_one(ChargerTable).selected == "LAB-1-1"
        await pilot.press("s")
        await point.wait_for("RemoteStartTransaction")
        await wait_until(
            pilot, "accepted", lambda: notes.find("information", "Start LAB-1-1") is not None
        )
        assert row(app, "LAB-1-1")["status"] == "Idle (start…)"  # the charger has not started
        started = await point.call(
            call.StartTransaction(connector_id=1, id_tag="EVCSM", meter_start=0, timestamp=now())
        )
        await point.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
        )
        await wait_until(pilot, "charging", lambda: row(app, "LAB-1-1")["status"] == "Charging")
        messages = [n.message for n in notes.seen if "Start LAB-1-1" in n.title]
        assert messages[-1] == "confirmed by the daemon"
        assert any("accepted by the charger" in m for m in messages)

        await pilot.press("x")
        await point.wait_for("RemoteStopTransaction")
        await wait_until(
            pilot, "stop pending", lambda: row(app, "LAB-1-1")["status"] == "Charging (stop…)"
        )
        await point.call(
            call.StopTransaction(
                meter_stop=1500, timestamp=now(), transaction_id=started.transaction_id
            )
        )
        await point.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Available")
        )
        await wait_until(pilot, "idle", lambda: row(app, "LAB-1-1")["status"] == "Idle")
        assert row(app, "LAB-1-1")["energy"] == "1.500"


class TimingOutLink(FixedLink):
    """An OCPP charger that accepts a start and never begins: pending, then start_timeout."""

    def __init__(self) -> None:
        super().__init__((LinkChange(LinkStatus.CONNECTED), Availability.ONLINE, *OCPP_FLEET))
        self.release = asyncio.Event()

    async def command(
        self, charger_id: str, action: CommandAction, accepted: Accepted | None = None
    ) -> CommandReply:
        if accepted is not None:
            accepted(
                CommandReply(
                    ok=True,
                    charger_id=charger_id,
                    action=action.value,
                    pending=True,
                    request_id="r",
                )
            )
        await self.release.wait()
        error = ErrorInfo(
            code=ErrorCode.START_TIMEOUT,
            message=f"charger {charger_id!r} accepted the start but began no transaction in 60 s",
        )
        return CommandReply(
            ok=False, charger_id=charger_id, action=action.value, request_id="r", error=error
        )


async def test_a_start_that_times_out_is_pending_then_an_error_notification(
    tmp_path: Path,
) -> None:
    link = TimingOutLink()
    app = EvcsmApp(link, export_dir=tmp_path, now=lambda: NOW, tz=UTC)
    notes = Notes()
    async with app.run_test(size=(120, 40), message_hook=notes.hook) as pilot:
        await wait_until(pilot, "fleet shown", lambda: bool(row(app, "YARD-3-1")))
        await pilot.press("down", "down", "down", "down", "s")
        await wait_until(
            pilot, "pending", lambda: row(app, "YARD-3-1")["status"] == "Idle (start…)"
        )
        assert notes.find("information", "Start YARD-3-1") is not None
        link.release.set()
        await wait_until(
            pilot,
            "the failure told",
            lambda: notes.find("error", "Start YARD-3-1 failed") is not None,
        )
        assert row(app, "YARD-3-1")["status"] == "Idle"
        failure = notes.find("error", "Start YARD-3-1 failed")
        assert failure is not None
        assert "began no transaction" in failure.message
