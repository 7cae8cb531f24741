"""What every full screen of the dashboard shares: typed access to what the app offers it.

`Host` is that offer, a protocol: the screens name what they use of the app without importing
it (the app imports the screens, never the other way round), and the app satisfies it.
"""

from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Protocol, cast

from evcsm_schema import CommandAction
from textual.dom import DOMNode
from textual.screen import Screen

from evcsm_tui.client import Link
from evcsm_tui.state import DashboardState


class Host(Protocol):
    """The app as its screens see it: its state, link, clock and folders."""

    state: DashboardState
    """What the screens show; a reactive the screens watch."""
    link: Link
    now: Callable[[], datetime]
    tz: tzinfo | None
    export_dir: Path

    def request_command(self, charger_id: str | None, action: CommandAction) -> None:
        """Send `action` for `charger_id`, or tell the operator why it cannot be sent."""
        ...


class EvcsmScreen(Screen[None]):
    """A screen of the dashboard app."""

    @property
    def evcsm(self) -> Host:
        """The app, with its state, link and clock."""
        return cast("Host", self.app)

    @property
    def host_node(self) -> DOMNode:
        """The app as a node, to watch its `state`."""
        return self.app
