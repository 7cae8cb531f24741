"""The header: the broker connection and the daemon's availability, told apart."""

from evcsm_schema import Availability
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Label

from evcsm_tui.figures import fleet_simulated
from evcsm_tui.state import DashboardState, LinkStatus

LINK_TEXT = {
    LinkStatus.CONNECTING: "◌ broker: connecting to {label}",
    LinkStatus.CONNECTED: "● broker: {label}",
    LinkStatus.DISCONNECTED: "✕ broker unreachable: retrying {label}",
}
READ_ONLY_TEXT = "◆ read-only"
DAEMON_TEXT = {
    Availability.ONLINE: "● daemon online",
    Availability.OFFLINE: "✕ daemon offline",
    None: "? daemon unknown",
}


class StatusBar(Horizontal):
    """One line: title, broker, simulation, daemon, read-only. CSS classes carry the colours."""

    link: reactive[LinkStatus] = reactive(LinkStatus.CONNECTING)
    daemon: reactive[Availability | None] = reactive(None)
    read_only: reactive[bool] = reactive(default=False)
    simulated: reactive[str] = reactive("")
    """The fleet's simulation marker, empty for real chargers."""

    def __init__(self, title: str, broker_label: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._title = title
        self._broker_label = broker_label

    def compose(self) -> ComposeResult:
        """Title on the left, the two states on the right."""
        yield Label(Content(self._title), id="title")
        yield Label(id="broker")
        yield Label(id="simulated")
        yield Label(id="daemon")
        yield Label(READ_ONLY_TEXT, id="read-only")

    def on_mount(self) -> None:
        """Paint the initial states."""
        self._paint()

    def show(self, state: DashboardState) -> None:
        """Follow `state`."""
        self.link = state.link
        self.daemon = state.daemon
        self.read_only = state.read_only
        self.simulated = fleet_simulated(state)

    def watch_link(self) -> None:
        """Repaint when the broker state changes."""
        self._paint()

    def watch_daemon(self) -> None:
        """Repaint when the daemon state changes."""
        self._paint()

    def watch_read_only(self, read_only: bool) -> None:  # noqa: FBT001 - Textual's watcher
        """Show or hide the read-only marker."""
        self.set_class(read_only, "-read-only")

    def watch_simulated(self, simulated: str) -> None:
        """Show the simulation marker, or hide it for real chargers."""
        if self.is_mounted:
            self.query_one("#simulated", Label).update(Content(f"◇ {simulated}"))
        self.set_class(bool(simulated), "-simulated")

    def _paint(self) -> None:
        if not self.is_mounted:
            return
        broker = self.query_one("#broker", Label)
        broker.update(Content(LINK_TEXT[self.link].format(label=self._broker_label)))
        for status in LinkStatus:
            broker.set_class(self.link is status, f"-{status.value}")
        daemon = self.query_one("#daemon", Label)
        connected = self.link is LinkStatus.CONNECTED
        daemon.update(DAEMON_TEXT[self.daemon] if connected else "? daemon: no broker")
        daemon.set_class(connected and self.daemon is Availability.ONLINE, "-online")
        daemon.set_class(connected and self.daemon is Availability.OFFLINE, "-offline")
        daemon.set_class(not connected or self.daemon is None, "-unknown")
