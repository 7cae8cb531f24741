"""The dashboard: every charger at a glance, the selected one in detail, start and stop."""

from typing import ClassVar

from evcsm_schema import CommandAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer

from evcsm_tui.screens.base import EvcsmScreen
from evcsm_tui.state import DashboardState
from evcsm_tui.widgets.charger_detail import ChargerDetail
from evcsm_tui.widgets.charger_table import ChargerTable
from evcsm_tui.widgets.status_bar import StatusBar

SELECT = Binding.Group("Select")


class DashboardScreen(EvcsmScreen):
    """Chargers table on top, the selected charger's detail below."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "command('start')", "Start", tooltip="Start the selected charger"),
        Binding("x", "command('stop')", "Stop", tooltip="Stop the selected charger"),
        # Takes `s` and `x` once start and stop are off, to say why instead of doing nothing.
        Binding("s,x", "read_only", show=False),
        Binding("k", "move(-1)", "Up", key_display="↑/k", group=SELECT),
        Binding("j", "move(1)", "Down", key_display="↓/j", group=SELECT),
        Binding("h", "app.switch_mode('history')", "History", tooltip="Past sessions"),
    ]

    _read_only = False
    """Whether the footer was last drawn for a read-only dashboard."""

    def compose(self) -> ComposeResult:
        """Header, table, detail, footer."""
        yield StatusBar("EVCSM", self.evcsm.link.label, id="status")
        yield ChargerTable(id="chargers")
        yield ChargerDetail(id="detail")
        yield Footer()

    def on_mount(self) -> None:
        """Follow the app's state, and move the clocks every second."""
        self.watch(self.evcsm, "state", self._show)
        self.set_interval(1.0, self._tick)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Start and stop leave the footer once the dashboard is read-only."""
        if action == "command":
            return not self.evcsm.state.read_only
        if action == "read_only":
            return self.evcsm.state.read_only
        return super().check_action(action, parameters)

    def action_read_only(self) -> None:
        """Say why `s` and `x` do nothing."""
        reason = self.evcsm.state.read_only_reason
        self.notify(f"Start and stop are off: {reason}.", title="Read-only", severity="warning")

    @property
    def selected(self) -> str | None:
        """The charger under the cursor."""
        return self.query_one(ChargerTable).selected

    def action_command(self, action: str) -> None:
        """Start or stop the selected charger."""
        self.evcsm.request_command(self.selected, CommandAction(action))

    def action_move(self, step: int) -> None:
        """Move the selection up or down."""
        table = self.query_one(ChargerTable)
        table.move_cursor(row=max(0, table.cursor_row + step))

    def on_charger_table_selected(self, _: ChargerTable.Selected) -> None:
        """Show the newly selected charger."""
        self._show_detail(self.evcsm.state)

    def _tick(self) -> None:
        self._show(self.evcsm.state)

    def _show(self, state: DashboardState) -> None:
        if state.read_only != self._read_only:
            self._read_only = state.read_only
            self.refresh_bindings()
        self.query_one(StatusBar).show(state)
        self.query_one(ChargerTable).show(state, self.evcsm.now())
        self._show_detail(state)

    def _show_detail(self, state: DashboardState) -> None:
        selected = self.selected
        view = state.chargers.get(selected) if selected else None
        self.query_one(ChargerDetail).show(state, view, self.evcsm.now(), self.evcsm.tz)
