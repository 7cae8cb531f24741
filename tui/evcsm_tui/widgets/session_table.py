"""The history's sessions table, sorted as its view says, with the sort column marked."""

from datetime import datetime, tzinfo

from rich.text import Text
from textual.widgets import DataTable

from evcsm_tui import fmt
from evcsm_tui.history import HistoryView, SortKey

COLUMNS = (
    ("Charger", SortKey.CHARGER),
    ("Start", SortKey.START),
    ("End", SortKey.END),
    ("Duration", SortKey.DURATION),
    ("kWh", SortKey.ENERGY),
    ("Stop reason", SortKey.REASON),
)


class SessionTable(DataTable[Text]):
    """One row per session."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)

    def show(self, view: HistoryView, now: datetime, tz: tzinfo | None) -> None:
        """Replace the rows with the view's sessions."""
        self.clear(columns=True)
        arrow = " ↓" if view.descending else " ↑"
        for label, key in COLUMNS:
            self.add_column(label + (arrow if key is view.sort else ""), key=key.value)
        for session in view.rows(now):
            self.add_row(
                Text(session.charger_id),
                Text(fmt.minute(session.start_time, tz)),
                Text(fmt.end_minute(session.start_time, session.end_time, tz)),
                Text(fmt.duration(session.duration_s(now)), justify="right"),
                Text(fmt.kwh(session.energy_consumed), justify="right"),
                Text(session.stop_reason or ("charging" if session.active else fmt.DASH)),
                key=session.session_id,
            )
