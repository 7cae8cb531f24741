"""The dashboard: every charger at a glance, the selected one in detail, start and stop."""

from typing import ClassVar

from evcsm_schema import CommandAction
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Input, Label

from evcsm_tui.filters import ChargerFilter, StatusFilter
from evcsm_tui.history import cycle
from evcsm_tui.screens.base import EvcsmScreen
from evcsm_tui.state import DashboardState
from evcsm_tui.widgets.charger_detail import ChargerDetail
from evcsm_tui.widgets.charger_table import ChargerTable
from evcsm_tui.widgets.footer import KeysFooter
from evcsm_tui.widgets.status_bar import StatusBar

SELECT = Binding.Group("Select")
FILTER = Binding.Group("Filter")


class DashboardScreen(EvcsmScreen):
    """Chargers table on top, the selected charger's detail below."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "s", "command('start')", "Start", tooltip="Start a session on the selected charger"
        ),
        Binding("x", "command('stop')", "Stop", tooltip="Stop the selected charger's session"),
        # Takes `s` and `x` once start and stop are off, to say why instead of doing nothing.
        Binding("s,x", "read_only", show=False),
        Binding(
            "k", "move(-1)", "Up", key_display="k", group=SELECT, tooltip="Select the charger above"
        ),
        Binding(
            "j",
            "move(1)",
            "Down",
            key_display="j",
            group=SELECT,
            tooltip="Select the charger below",
        ),
        Binding(
            "f",
            "filter_status",
            "Status",
            group=FILTER,
            tooltip="Show only Charging, then Idle, then other chargers (Faulted, ...), then all",
        ),
        Binding(
            "slash",
            "find",
            "Id",
            key_display="/",
            group=FILTER,
            tooltip="Show only chargers whose id contains what you type",
        ),
        # Named on the filter line, which shows while a filter is on.
        Binding("escape", "clear_filter", "All", show=False, tooltip="Show every charger again"),
        Binding("h", "app.history", "History", tooltip="Session history (and back)"),
    ]

    charger_filter: reactive[ChargerFilter] = reactive(ChargerFilter, always_update=True)
    """Which chargers the table shows."""
    _read_only = False
    """Whether the footer was last drawn for a read-only dashboard."""

    def compose(self) -> ComposeResult:
        """Header, filter line, table, detail, footer."""
        yield StatusBar("EVCSM", self.evcsm.link.label, id="status")
        yield Input(placeholder="charger id contains…", id="find")
        yield Label(id="filter-line")
        yield ChargerTable(id="chargers")
        yield ChargerDetail(id="detail")
        yield KeysFooter()

    def on_mount(self) -> None:
        """Follow the app's state, and move the clocks every second."""
        self.watch(self.host_node, "state", self._show)
        self.set_interval(1.0, self._tick)
        self.query_one(ChargerTable).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Start and stop leave the footer once the dashboard is read-only; `esc` works only
        while a filter is on."""
        if action == "command":
            return not self.evcsm.state.read_only
        if action == "read_only":
            return self.evcsm.state.read_only
        if action == "clear_filter":
            return self.charger_filter.active or self.query_one("#find", Input).has_focus
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
        table.move_cursor(table.cursor_row + step)

    def action_filter_status(self) -> None:
        """Show the next status only: Charging, Idle, the others, then all again."""
        current = self.charger_filter
        self.charger_filter = ChargerFilter(cycle(list(StatusFilter), current.status), current.text)

    def action_find(self) -> None:
        """Type part of a charger id; the table narrows as you type (`enter` keeps it)."""
        find = self.query_one("#find", Input)
        find.add_class("-open")
        self.call_after_refresh(find.focus)  # once shown: a hidden widget cannot take focus

    def action_clear_filter(self) -> None:
        """Show every charger again."""
        find = self.query_one("#find", Input)
        find.value = ""
        find.remove_class("-open")
        self.charger_filter = ChargerFilter()
        self.query_one(ChargerTable).focus()

    @on(Input.Changed, "#find")
    def _find_changed(self, event: Input.Changed) -> None:
        self.charger_filter = ChargerFilter(self.charger_filter.status, event.value.strip())

    @on(Input.Submitted, "#find")
    def _find_done(self) -> None:
        self.query_one("#find", Input).remove_class("-open")  # the filter line says what it keeps
        self.query_one(ChargerTable).focus()

    def watch_charger_filter(self, shown: ChargerFilter) -> None:
        """Show the rows the filter keeps, and say what it keeps."""
        self.refresh_bindings()
        self._show(self.evcsm.state)
        del shown

    def on_charger_table_selected(self, _: ChargerTable.Selected) -> None:
        """Show the newly selected charger."""
        self._show_detail(self.evcsm.state)

    def _tick(self) -> None:
        self._show(self.evcsm.state)

    def _show(self, state: DashboardState) -> None:
        if state.read_only != self._read_only:
            self._read_only = state.read_only
            self.refresh_bindings()
        shown = self.charger_filter
        table = self.query_one(ChargerTable)
        self.query_one(StatusBar).show(state)
        table.show(state, self.evcsm.now(), shown)
        line = self.query_one("#filter-line", Label)
        line.set_class(shown.active, "-active")
        if shown.active:
            line.update(Content(shown.describe(len(table.keys), len(state.chargers))))
        self._show_detail(state)

    def _show_detail(self, state: DashboardState) -> None:
        selected = self.selected
        view = state.chargers.get(selected) if selected else None
        empty = "No charger matches the filter" if state.chargers else "No charger yet"
        detail = self.query_one(ChargerDetail)
        detail.show(state, view, self.evcsm.now(), self.evcsm.tz, empty=empty)
