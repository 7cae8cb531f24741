"""The dashboard against a real Mosquitto and the real daemon in-process: keys in, screen out."""

import asyncio
import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from evcsm_daemon.runtime import Daemon
from evcsm_schema import SessionQuery
from evcsm_tui.client import MqttLink
from evcsm_tui.errors import NobodyListens
from evcsm_tui.screens.dashboard import DashboardScreen
from evcsm_tui.screens.help import HelpScreen
from evcsm_tui.widgets.line_table import LineTable
from textual.command import CommandPalette
from textual.widgets import Markdown

from tests.support.broker import Mosquitto
from tests.tui.harness import (
    Notes,
    detail_title,
    figure,
    label,
    mqtt_app,
    palette_first,
    ready,
    row,
    table_rows,
    wait_until,
)

pytestmark = pytest.mark.broker


def kwh(text: str) -> float:
    return float(text)


def rest_charger(daemon: Daemon, charger_id: str) -> dict[str, Any]:
    """The charger as the daemon's REST API shows it."""
    url = f"http://127.0.0.1:{daemon.http_port}/api/chargers/{charger_id}"
    with urllib.request.urlopen(url, timeout=10) as response:
        body: dict[str, Any] = json.load(response)
        return body


def exported_lines(folder: Path) -> list[str]:
    [export] = folder.glob("evcsm-sessions-*.csv")
    return export.read_text(encoding="utf-8").splitlines()


async def test_start_then_stop_from_the_keyboard(
    broker: Mosquitto, daemon: Daemon, tmp_path: Path
) -> None:
    app = mqtt_app(broker.url, tmp_path)
    notes = Notes()
    async with app.run_test(size=(100, 30), message_hook=notes.hook) as pilot:
        await ready(pilot, app, "CP1", "CP2")
        assert row(app, "CP1")["status"] == "Idle"

        await pilot.press("s")
        await wait_until(pilot, "CP1 charging", lambda: row(app, "CP1")["status"] == "Charging")
        first = kwh(row(app, "CP1")["energy"])
        await wait_until(pilot, "energy grows", lambda: kwh(row(app, "CP1")["energy"]) > first)
        assert row(app, "CP1")["power"].endswith("22.0")
        assert row(app, "CP1")["session"] != "—"
        # The test daemon's meters run at x60: the header and the detail say so.
        assert detail_title(app) == "CP1 · Charging · simulated x60"
        assert label(app, "#simulated") == "◇ simulated x60"
        assert re.fullmatch(r"for 0:00:\d\d \(\d:\d\d:\d\d simulated\)", figure(app, "Charging"))
        assert notes.find("information", "Start CP1") is not None

        await pilot.press("x")
        await wait_until(pilot, "CP1 stopped", lambda: row(app, "CP1")["status"] == "Idle")
        stopped = row(app, "CP1")
        assert stopped["power"].endswith("0.00")
        assert kwh(stopped["energy"]) > first
        assert row(app, "CP2")["status"] == "Idle"
        # One vocabulary: the dashboard says what REST and the retained state say.
        rest = await asyncio.to_thread(rest_charger, daemon, "CP1")
        assert rest["status"] == "Idle"
        assert rest["session"]["status"] == "Stopped"
        assert daemon.service is not None
        assert daemon.service.state("CP1").status.value == stopped["status"]
        assert detail_title(app) == "CP1 · Idle · simulated x60"


async def test_selection_moves_with_j_and_k(
    broker: Mosquitto, daemon: Daemon, tmp_path: Path
) -> None:
    app = mqtt_app(broker.url, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot, app, "CP1", "CP2")
        await pilot.press("j", "s")
        await wait_until(pilot, "CP2 charging", lambda: row(app, "CP2")["status"] == "Charging")
        assert row(app, "CP1")["status"] == "Idle"
        assert detail_title(app) == "CP2 · Charging · simulated x60"
        await pilot.press("k")
        await wait_until(pilot, "CP1 in detail", lambda: detail_title(app).startswith("CP1 · Idle"))
        await pilot.press("down")
        await wait_until(pilot, "CP2 in detail", lambda: detail_title(app).startswith("CP2"))


async def test_an_error_reply_becomes_a_notification(
    broker: Mosquitto, daemon: Daemon, tmp_path: Path
) -> None:
    app = mqtt_app(broker.url, tmp_path)
    notes = Notes()
    async with app.run_test(size=(100, 30), message_hook=notes.hook) as pilot:
        await ready(pilot, app, "CP1")
        await pilot.press("x")  # CP1 is idle: the daemon refuses
        await wait_until(
            pilot, "a refusal", lambda: notes.find("error", "Stop CP1 refused") is not None
        )
        refusal = notes.find("error", "Stop CP1 refused")
        assert refusal is not None
        assert refusal.message == "no active session on charger 'CP1'"
        await wait_until(pilot, "pending cleared", lambda: row(app, "CP1")["status"] == "Idle")


async def test_history_lists_the_session(broker: Mosquitto, daemon: Daemon, tmp_path: Path) -> None:
    app = mqtt_app(broker.url, tmp_path)
    notes = Notes()
    async with app.run_test(size=(120, 40), message_hook=notes.hook) as pilot:
        await ready(pilot, app, "CP1")
        await pilot.press("s")
        await wait_until(pilot, "CP1 charging", lambda: row(app, "CP1")["status"] == "Charging")
        await pilot.press("x")
        await wait_until(pilot, "CP1 stopped", lambda: row(app, "CP1")["status"] == "Idle")
        session = row(app, "CP1")["session"]

        await pilot.press("h")
        await wait_until(
            pilot, "one session listed", lambda: len(table_rows(app, "#sessions")) == 1
        )
        [listed] = table_rows(app, "#sessions")
        assert listed[0] == "CP1"
        assert listed[5] == "Stopped from the dashboard"
        assert kwh(listed[4]) > 0
        assert label(app, "#totals").startswith("1 sessions")
        history_key = app.screen.query_one("#sessions", LineTable).keys[0]
        assert history_key is not None
        assert history_key.startswith(session)

        await pilot.press("e")
        await wait_until(
            pilot, "an export", lambda: notes.find("information", "Exported") is not None
        )
        lines = exported_lines(tmp_path)
        assert len(lines) == 2
        assert lines[1].startswith(history_key + ",CP1,Stopped,")

        await pilot.press("escape")
        await wait_until(pilot, "back on the dashboard", lambda: bool(row(app, "CP1")))


async def test_a_session_query_says_when_the_broker_has_it(
    broker: Mosquitto, daemon: Daemon, tmp_path: Path
) -> None:
    app = mqtt_app(broker.url, tmp_path)
    told: list[str] = []
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot, app, "CP1")
        reply = await app.link.query_sessions(SessionQuery(limit=1), lambda: told.append("sent"))
        assert reply.ok
        assert told == ["sent"]


async def test_a_session_query_nobody_takes_is_never_said_to_have_left(
    broker: Mosquitto, tmp_path: Path
) -> None:
    app = mqtt_app(broker.url, tmp_path)
    told: list[str] = []
    async with app.run_test(size=(100, 30)) as pilot:
        link = app.link
        assert isinstance(link, MqttLink)
        await wait_until(pilot, "connected", lambda: link.connected)
        with pytest.raises(NobodyListens):
            await link.query_sessions(SessionQuery(limit=1), lambda: told.append("sent"))
        assert told == []


async def test_the_command_palette_starts_a_charger_by_name(
    broker: Mosquitto, daemon: Daemon, tmp_path: Path
) -> None:
    app = mqtt_app(broker.url, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot, app, "CP1", "CP2")
        await pilot.press("ctrl+p")
        await wait_until(pilot, "the palette", lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"Start CP2")
        await wait_until(
            pilot, "Start CP2 offered", lambda: palette_first(app).startswith("Start CP2")
        )
        await pilot.press("enter")
        await wait_until(pilot, "CP2 charging", lambda: row(app, "CP2")["status"] == "Charging")
        assert row(app, "CP1")["status"] == "Idle"


async def test_help_opens_and_closes(broker: Mosquitto, tmp_path: Path) -> None:
    app = mqtt_app(broker.url, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await wait_until(pilot, "the help", lambda: isinstance(app.screen, HelpScreen))
        text = app.screen.query_one(Markdown).source
        for key in ("`s`", "`x`", "`h`", "`q`", "`ctrl+p`"):
            assert key in text
        await pilot.press("escape")
        await wait_until(pilot, "back", lambda: isinstance(app.screen, DashboardScreen))
