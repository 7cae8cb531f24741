"""Driving the dashboard in tests: build it on a real broker, read its screen, wait for it."""

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evcsm_link.backoff import Backoff
from evcsm_schema.broker import parse_broker_url
from evcsm_tui.app import EvcsmApp
from evcsm_tui.client import MqttLink
from evcsm_tui.widgets.charger_detail import ChargerDetail
from evcsm_tui.widgets.charger_table import ChargerTable
from evcsm_tui.widgets.line_table import LineTable
from rich.text import Text
from textual.app import App
from textual.command import CommandList, CommandPalette
from textual.message import Message
from textual.notifications import Notification, Notify
from textual.pilot import Pilot
from textual.widgets import Label, Static

WAIT_S = 20.0
"""Generous: the condition is what the test checks, not how fast it came."""

FAST_BACKOFF = Backoff(first=0.1, cap=0.5)


def mqtt_app(url: str, tmp_path: Path, *, request_timeout: float = 5.0) -> EvcsmApp:
    """The real app on a real broker, reconnecting quickly and exporting into `tmp_path`."""
    link = MqttLink(parse_broker_url(url), request_timeout=request_timeout, backoff=FAST_BACKOFF)
    return EvcsmApp(link, export_dir=tmp_path, refresh_interval=0.05)


class Notes:
    """Collects every notification the app raises (pass `hook` as run_test's message_hook)."""

    def __init__(self) -> None:
        self.seen: list[Notification] = []

    def hook(self, message: Message) -> None:
        if isinstance(message, Notify):
            self.seen.append(message.notification)

    def find(self, severity: str, title_part: str) -> Notification | None:
        return next(
            (n for n in self.seen if n.severity == severity and title_part in n.title), None
        )


async def wait_until(pilot: Pilot[Any], what: str, condition: Callable[[], bool]) -> None:
    """Let the app run until `condition` holds; fail naming `what` after WAIT_S."""
    try:
        async with asyncio.timeout(WAIT_S):
            while not condition():
                await pilot.pause(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for: {what}") from None


def row(app: App[Any], charger_id: str) -> dict[str, str]:
    """The charger's row in the dashboard table, as plain text by column key."""
    return app.screen.query_one(ChargerTable).row_text(charger_id)


def label(app: App[Any], selector: str) -> str:
    """The plain text of a label on the current screen."""
    return str(app.screen.query_one(selector, Label).render())


def figure(app: App[Any], name: str) -> str:
    """The value of one figure in the detail panel ("" when it is not shown)."""
    text = str(app.screen.query_one("#figures", Static).render())
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return line[len(name) :].strip()
    return ""


def detail_title(app: App[Any]) -> str:
    """The detail panel's border title."""
    return str(app.screen.query_one(ChargerDetail).border_title)


def table_rows(app: App[Any], selector: str) -> list[list[str]]:
    """Every row of a table as plain text."""
    table = app.screen.query_one(selector, LineTable)
    return [list(table.row_text(key).values()) for key in table.keys]


async def ready(pilot: Pilot[Any], app: App[Any], *charger_ids: str) -> None:
    """Wait until the daemon is online and every named charger has a row."""
    await wait_until(pilot, "daemon online", lambda: "daemon online" in label(app, "#daemon"))
    await wait_until(
        pilot, f"{', '.join(charger_ids)} listed", lambda: all(row(app, c) for c in charger_ids)
    )


def palette_first(app: App[Any]) -> str:
    """The prompt of the palette's highlighted command, or '' while there is none."""
    if not isinstance(app.screen, CommandPalette):
        return ""
    commands = app.screen.query_one(CommandList)
    if commands.highlighted is None or commands.option_count == 0:
        return ""
    prompt = commands.get_option_at_index(commands.highlighted).prompt
    return prompt.plain if isinstance(prompt, Text) else str(prompt)
