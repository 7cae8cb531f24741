"""Every charger at a glance: one row each, the selection sent up as `ChargerTable.Selected`."""

from datetime import datetime
from typing import ClassVar

from evcsm_schema import ChargerStatus
from rich.style import Style
from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from evcsm_tui import fmt
from evcsm_tui.state import ChargerView, DashboardState

GAUGE_WIDTH = 8
COLUMNS = (
    ("Charger", "charger", 10),
    ("Status", "status", 17),
    ("Power kW", "power", GAUGE_WIDTH + 6),
    ("kWh", "energy", 8),
    ("Time", "time", 8),
    ("Session", "session", 8),
)
"""Label, key and width of each column: fixed, so figures never shift as they change."""


_STATUS_STYLE = {
    ChargerStatus.CHARGING.value: "chargers--charging",
    ChargerStatus.OFFLINE.value: "chargers--offline",
    ChargerStatus.FAULTED.value: "chargers--fault",
    ChargerStatus.UNAVAILABLE.value: "chargers--fault",
}
"""How a status stands out in the table; every other one looks idle."""


class ChargerTable(DataTable[Text]):
    """The chargers table; colours come from its component classes in the stylesheet."""

    COMPONENT_CLASSES: ClassVar[set[str]] = DataTable.COMPONENT_CLASSES | {
        "chargers--charging",
        "chargers--idle",
        "chargers--stale",
        "chargers--pending",
        "chargers--offline",
        "chargers--fault",
        "chargers--gauge",
        "chargers--gauge-empty",
    }

    class Selected(Message):
        """The operator moved the selection to another charger."""

        def __init__(self, charger_id: str | None) -> None:
            super().__init__()
            self.charger_id = charger_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._ids: list[str] = []

    def on_mount(self) -> None:
        """Create the columns."""
        for label, key, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    @property
    def selected(self) -> str | None:
        """The charger under the cursor."""
        if not self._ids:
            return None
        return self._ids[min(self.cursor_row, len(self._ids) - 1)]

    def show(self, state: DashboardState, now: datetime) -> None:
        """Bring the rows in line with `state`, keeping the selected charger selected."""
        ids = state.charger_ids
        if ids != self._ids:
            keep = self.selected
            self.clear()
            for charger_id in ids:
                self.add_row(*self._cells(state, state.chargers[charger_id], now), key=charger_id)
            self._ids = ids
            if keep in ids:
                self.move_cursor(row=ids.index(keep))
            self.post_message(self.Selected(self.selected))
            return
        for charger_id in ids:
            cells = self._cells(state, state.chargers[charger_id], now)
            for (_, column, _), cell in zip(COLUMNS, cells, strict=True):
                self.update_cell(charger_id, column, cell)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Turn the table's cursor move into a charger selection."""
        event.stop()
        self.post_message(self.Selected(self.selected))

    def _cells(self, state: DashboardState, view: ChargerView, now: datetime) -> list[Text]:
        stale = not state.live
        status = self._status(state, view)
        filled, empty = fmt.gauge(view.load, GAUGE_WIDTH)
        power = Text.assemble(
            (filled, self._style("chargers--gauge")),
            (empty, self._style("chargers--gauge-empty")),
            f" {fmt.kw(view.power_kw):>5}",
        )
        session = view.session
        cells = [
            Text(view.charger_id),
            status,
            power,
            Text(fmt.kwh(view.energy_kwh), justify="right"),
            Text(fmt.duration(view.duration_s(now)), justify="right"),
            Text(fmt.short_id(session.session_id if session else None)),
        ]
        if stale:
            for cell in cells:
                cell.stylize(self._style("chargers--stale"))
        return cells

    def _status(self, state: DashboardState, view: ChargerView) -> Text:
        if not state.live:
            return Text("Unknown", self._style("chargers--stale"))
        label = view.status_label
        style = _STATUS_STYLE.get(label) or (
            "chargers--charging" if view.charging else "chargers--idle"
        )
        text = Text(label, self._style(style))
        if view.pending is not None:
            text.append(f" ({view.pending.value}…)", self._style("chargers--pending"))
        return text

    def _style(self, component: str) -> Style:
        return self.get_component_rich_style(component, partial=True)
