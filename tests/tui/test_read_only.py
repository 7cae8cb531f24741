"""A viewer's dashboard on the locked-down broker: the refused command shows at once, then the
dashboard is read-only (no start/stop offered, a marker in the header)."""

import asyncio
from pathlib import Path
from typing import Any

import pytest
from evcsm_schema import CommandAction
from evcsm_schema.broker import parse_broker_url
from evcsm_tui.app import READ_ONLY_REASON, EvcsmApp
from evcsm_tui.client import MqttLink
from evcsm_tui.errors import NobodyListens, NotAuthorised
from evcsm_tui.screens.help import HelpScreen
from textual.app import App
from textual.widgets import Markdown

from tests.deploy.deployment import DAEMON_USER, VIEWER_USER, Deployment, running_broker
from tests.support.broker import Mosquitto
from tests.support.daemon import daemon_settings, running_daemon
from tests.tui.harness import (
    FAST_BACKOFF,
    WAIT_S,
    Notes,
    label,
    mqtt_app,
    ready,
    row,
    wait_until,
)

pytestmark = pytest.mark.broker

PATIENT_S = 600.0
"""A request deadline far beyond the test's wait: an answer seen in time did not come from it."""


def offered(app: App[Any]) -> dict[str, str]:
    """Key to action of every binding the footer shows now."""
    return {
        key: active.binding.action
        for key, active in app.screen.active_bindings.items()
        if active.binding.show
    }


def link_as(url: str, user: str, password: str) -> MqttLink:
    broker = parse_broker_url(url.replace("mqtt://", f"mqtt://{user}@")).with_password(password)
    return MqttLink(broker, request_timeout=PATIENT_S, backoff=FAST_BACKOFF)


async def test_a_viewer_is_told_not_authorised_at_once_and_the_dashboard_turns_read_only(
    tmp_path: Path,
) -> None:
    deployment = Deployment.create(tmp_path)
    with running_broker(deployment) as (broker, _):
        viewer = link_as(broker.url, VIEWER_USER, deployment.password(VIEWER_USER))
        app = EvcsmApp(viewer, export_dir=tmp_path, refresh_interval=0.05)
        settings = daemon_settings(
            broker.url.replace("mqtt://", f"mqtt://{DAEMON_USER}@"),
            mqtt_password=deployment.password(DAEMON_USER),
        )
        notes = Notes()
        async with (
            running_daemon(settings),
            app.run_test(size=(100, 30), message_hook=notes.hook) as pilot,
        ):
            await ready(pilot, app, "CP1", "CP2")
            assert offered(app)["s"] == "command('start')"
            assert not app.screen.query_one("#read-only").display

            await pilot.press("s")
            await wait_until(
                pilot,
                "not authorised, long before the request deadline",
                lambda: notes.find("error", "not authorised") is not None,
            )
            refusal = notes.find("error", "not authorised")
            assert refusal is not None
            assert refusal.title == "Start CP1: not authorised"
            assert "evcsm-viewer" in refusal.message
            await wait_until(
                pilot, "no longer pending", lambda: row(app, "CP1")["status"] == "Idle"
            )

            assert "s" not in offered(app)
            assert "x" not in offered(app)
            assert app.screen.query_one("#read-only").display
            assert label(app, "#read-only") == "◆ read-only"
            assert label(app, "#notice") == f"Read-only: {READ_ONLY_REASON}"

            notes.seen.clear()
            await pilot.press("x")  # says why, sends nothing
            await wait_until(
                pilot, "a warning", lambda: notes.find("warning", "Read-only") is not None
            )
            assert notes.find("error", "not authorised") is None

            await pilot.press("question_mark")
            await wait_until(pilot, "the help", lambda: isinstance(app.screen, HelpScreen))
            help_text = app.screen.query_one(Markdown).source
            assert "This dashboard is read-only" in help_text
            assert "Start a session" not in help_text
            await pilot.press("escape")

            palette = [command.title for command in app.get_system_commands(app.screen)]
            assert "Session history" in palette
            assert not [title for title in palette if title.startswith(("Start", "Stop"))]


async def test_the_link_says_not_authorised_from_the_puback(tmp_path: Path) -> None:
    deployment = Deployment.create(tmp_path)
    with running_broker(deployment) as (broker, _):
        viewer = link_as(broker.url, VIEWER_USER, deployment.password(VIEWER_USER))
        app = EvcsmApp(viewer, export_dir=tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, "connected", lambda: viewer.connected)
            with pytest.raises(NotAuthorised, match="not authorised: the broker does not let"):
                async with asyncio.timeout(WAIT_S):
                    await viewer.command("CP1", CommandAction.STOP)


async def test_a_command_nobody_subscribes_to_fails_at_once(
    broker: Mosquitto, tmp_path: Path
) -> None:
    app = mqtt_app(broker.url, tmp_path, request_timeout=PATIENT_S)
    async with app.run_test(size=(80, 24)) as pilot:
        link = app.link
        assert isinstance(link, MqttLink)
        await wait_until(pilot, "connected", lambda: link.connected)
        with pytest.raises(NobodyListens, match="no daemon listens"):
            async with asyncio.timeout(WAIT_S):
                await link.command("CP1", CommandAction.START)
