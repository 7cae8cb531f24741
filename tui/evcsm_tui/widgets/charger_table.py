"""The chargers table: one row per charger shown, built only for the rows on screen."""

from datetime import datetime
from typing import ClassVar

from evcsm_schema import ChargerStatus
from textual.message import Message

from evcsm_tui import fmt
from evcsm_tui.filters import ChargerFilter
from evcsm_tui.state import ChargerView, DashboardState
from evcsm_tui.widgets.line_table import Cell, Column, LineTable, Row

GAUGE_WIDTH = 8
COLUMNS = (
    Column("Charger", "charger", 10),
    Column("Status", "status", 17),
    Column("Power kW", "power", GAUGE_WIDTH + 6),
    Column("kWh", "energy", 8, "right"),
    Column("Time", "time", 8, "right"),
    Column("Session", "session", 8),
)
"""Fixed widths, so figures never shift as they change."""
STALE = "chargers--stale"
STATUS_STYLE = {
    ChargerStatus.CHARGING.value: "chargers--charging",
    ChargerStatus.OFFLINE.value: "chargers--offline",
    ChargerStatus.FAULTED.value: "chargers--fault",
    ChargerStatus.UNAVAILABLE.value: "chargers--fault",
}
"""How a status stands out in the table: Offline and faults; every other one looks idle."""


class ChargerTable(LineTable):
    """The chargers the filter keeps; colours come from its component classes in the stylesheet."""

    COMPONENT_CLASSES: ClassVar[set[str]] = LineTable.COMPONENT_CLASSES | {
        "chargers--charging",
        "chargers--idle",
        STALE,
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
        super().__init__(COLUMNS, id=id)
        self._state = DashboardState()
        self._now: datetime | None = None

    def show(self, state: DashboardState, now: datetime, shown: ChargerFilter) -> None:
        """Show the chargers of `state` that `shown` keeps, the selected one kept selected."""
        self._state, self._now = state, now
        keys = shown.rows(state)
        if keys != self.keys:
            self.set_rows(keys, keep=self.selected)
        self.update_rows()

    def on_line_table_highlighted(self, event: LineTable.Highlighted) -> None:
        """Turn the cursor's move into a charger selection."""
        event.stop()
        self.post_message(self.Selected(event.key))

    def row_cells(self, key: str) -> Row:
        """The charger's row as of the last `show`."""
        state = self._state
        view = state.chargers[key]
        stale = not state.live
        filled, empty = fmt.gauge(view.load, GAUGE_WIDTH)
        session = view.session
        power: Cell = (
            (filled, STALE if stale else "chargers--gauge"),
            (empty, STALE if stale else "chargers--gauge-empty"),
            (f" {fmt.kw(view.power_kw):>5}", STALE if stale else None),
        )
        duration = view.duration_s(self._now) if self._now else None
        plain = STALE if stale else None
        return (
            ((view.charger_id, plain),),
            self._status(view, stale=stale),
            power,
            ((fmt.kwh(view.energy_kwh), plain),),
            ((fmt.duration(duration), plain),),
            ((fmt.short_id(session.session_id if session else None), plain),),
        )

    @staticmethod
    def _status(view: ChargerView, *, stale: bool) -> Cell:
        if stale:
            return (("Unknown", STALE),)
        style = STATUS_STYLE.get(view.status_label)
        style = style or ("chargers--charging" if view.charging else "chargers--idle")
        label = (view.status_label, style)
        if view.pending is None:
            return (label,)
        return (label, (f" ({view.pending.value}…)", "chargers--pending"))
