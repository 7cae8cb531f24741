"""The dashboard under trouble: broker restarts, daemon offline, silence, garbage, other clients."""

import asyncio
import logging
from pathlib import Path

import pytest
from evcsm_schema import Availability, CommandAction, topics
from evcsm_schema.broker import parse_broker_url
from evcsm_tui.client import MqttLink

from tests.support.broker import Mosquitto
from tests.support.daemon import daemon_settings, running_daemon
from tests.support.mqtt import probe
from tests.tui.data import FLEET
from tests.tui.harness import Notes, label, mqtt_app, ready, row, wait_until

pytestmark = pytest.mark.broker


async def test_it_recovers_on_its_own_when_the_broker_restarts(
    broker: Mosquitto, tmp_path: Path
) -> None:
    app = mqtt_app(broker.url, tmp_path)
    async with (
        running_daemon(daemon_settings(broker.url)),
        app.run_test(size=(100, 30)) as pilot,
    ):
        await ready(pilot, app, "CP1")
        await pilot.press("s")
        await wait_until(pilot, "CP1 charging", lambda: row(app, "CP1")["status"] == "Charging")

        broker.stop()
        await wait_until(
            pilot,
            "broker down in the header",
            lambda: "broker unreachable" in label(app, "#broker"),
        )
        assert label(app, "#daemon") == "? daemon: no broker"
        assert row(app, "CP1")["status"] == "Unknown"

        broker.start()  # empty: no persistence, so the retained topics must be published again
        await wait_until(pilot, "reconnected", lambda: "● broker:" in label(app, "#broker"))
        await wait_until(pilot, "daemon back", lambda: "daemon online" in label(app, "#daemon"))
        await wait_until(pilot, "CP1 live", lambda: row(app, "CP1")["status"] == "Charging")
        before = float(row(app, "CP1")["energy"])
        await wait_until(pilot, "energy moves", lambda: float(row(app, "CP1")["energy"]) > before)


async def test_it_stays_up_when_the_broker_is_down_at_start(
    broker: Mosquitto, tmp_path: Path
) -> None:
    broker.stop()
    app = mqtt_app(broker.url, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(
            pilot,
            "broker down in the header",
            lambda: "broker unreachable" in label(app, "#broker"),
        )
        assert "not connected to the broker" in label(app, "#notice")
        broker.start()
        async with running_daemon(daemon_settings(broker.url)):
            await wait_until(
                pilot, "daemon online", lambda: "daemon online" in label(app, "#daemon")
            )
            await wait_until(pilot, "CP2 listed", lambda: row(app, "CP2").get("status") == "Idle")


async def test_daemon_offline_marks_chargers_unknown_and_says_why_keys_are_disabled(
    broker: Mosquitto, tmp_path: Path
) -> None:
    app = mqtt_app(broker.url, tmp_path)
    notes = Notes()
    async with app.run_test(size=(100, 30), message_hook=notes.hook) as pilot:
        async with running_daemon(daemon_settings(broker.url)):
            await wait_until(
                pilot, "daemon online", lambda: "daemon online" in label(app, "#daemon")
            )
            await wait_until(pilot, "CP1 idle", lambda: row(app, "CP1").get("status") == "Idle")
        await wait_until(pilot, "daemon offline", lambda: "daemon offline" in label(app, "#daemon"))
        assert "● broker:" in label(app, "#broker")  # the network is fine: only the daemon is down
        assert row(app, "CP1")["status"] == "Unknown"
        assert row(app, "CP2")["status"] == "Unknown"
        assert label(app, "#notice") == "Start/stop unavailable: the daemon is offline"

        await pilot.press("s")
        await wait_until(pilot, "a warning", lambda: bool(notes.seen))
        [warning] = notes.seen
        assert warning.severity == "warning"
        assert warning.message == "Start is disabled: the daemon is offline."
        assert row(app, "CP1")["status"] == "Unknown"


async def test_a_command_nobody_answers_stays_pending_then_times_out(
    broker: Mosquitto, tmp_path: Path
) -> None:
    app = mqtt_app(broker.url, tmp_path, request_timeout=1.0)
    notes = Notes()
    async with probe(broker.port) as fake_daemon:
        # A daemon's retained topics and its command subscription, but no answers.
        await fake_daemon.client.subscribe(topics.CHARGER_COMMAND_ALL, qos=1)
        await fake_daemon.client.publish(topics.AVAILABILITY, b"online", qos=1, retain=True)
        await fake_daemon.client.publish(
            topics.charger_state("DEPOT-04"), FLEET[3].to_json(), qos=1, retain=True
        )
        async with app.run_test(size=(100, 30), message_hook=notes.hook) as pilot:
            await wait_until(
                pilot, "DEPOT-04 idle", lambda: row(app, "DEPOT-04").get("status") == "Idle"
            )
            await pilot.press("s")
            await wait_until(
                pilot, "shown as pending", lambda: row(app, "DEPOT-04")["status"] == "Idle (start…)"
            )
            await wait_until(
                pilot, "a timeout", lambda: notes.find("error", "no answer") is not None
            )
            timeout = notes.find("error", "no answer")
            assert timeout is not None
            assert timeout.title == "Start DEPOT-04: no answer"
            assert timeout.message == "no answer from the daemon within 1 s"
            await wait_until(
                pilot, "no longer pending", lambda: row(app, "DEPOT-04")["status"] == "Idle"
            )


async def test_malformed_messages_are_ignored_with_a_log_line(
    broker: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = mqtt_app(broker.url, tmp_path)
    caplog.set_level(logging.WARNING, logger="evcsm_tui")
    async with probe(broker.port) as stranger, app.run_test(size=(100, 30)) as pilot:
        await stranger.client.publish(topics.AVAILABILITY, b"online", qos=1, retain=True)
        await stranger.client.publish(
            topics.charger_state("CP1"), FLEET[0].to_json(), qos=1, retain=True
        )
        await wait_until(pilot, "CP1 charging", lambda: row(app, "CP1").get("status") == "Charging")
        before = row(app, "CP1")
        await stranger.client.publish(topics.FLEET_UPDATES, b"\x00garbage", qos=1)
        await stranger.client.publish(topics.charger_state("CP1"), b'{"chargerId": 5}', qos=1)
        await stranger.client.publish(topics.AVAILABILITY, b"sleepy", qos=1)
        await wait_until(
            pilot,
            "three log lines",
            lambda: len([r for r in caplog.records if "ignored" in r.getMessage()]) >= 3,
        )
        assert row(app, "CP1") == before
        assert "daemon online" in label(app, "#daemon")
        assert app.is_running


async def test_a_command_from_another_dashboard_shows_here(
    broker: Mosquitto, tmp_path: Path
) -> None:
    app = mqtt_app(broker.url, tmp_path)
    async with (
        running_daemon(daemon_settings(broker.url)),
        app.run_test(size=(100, 30)) as pilot,
    ):
        await wait_until(pilot, "CP2 idle", lambda: row(app, "CP2").get("status") == "Idle")
        other = MqttLink(parse_broker_url(broker.url), request_timeout=5.0)
        task = asyncio.create_task(other.run(lambda _: None), name="other-dashboard")
        try:
            await wait_until(pilot, "the other dashboard connected", lambda: other.connected)
            reply = await other.command("CP2", CommandAction.START)
            assert reply.ok
            await wait_until(
                pilot, "CP2 charging here", lambda: row(app, "CP2")["status"] == "Charging"
            )
            assert reply.session is not None
            assert row(app, "CP2")["session"] == reply.session.session_id[:8]
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert Availability.ONLINE.value in label(app, "#daemon")
