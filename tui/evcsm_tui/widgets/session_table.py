"""The history's sessions table, sorted as its view says, with the sort column marked."""

from dataclasses import replace
from datetime import datetime, tzinfo

from evcsm_schema import ChargingSession

from evcsm_tui import fmt
from evcsm_tui.history import HistoryView, SortKey
from evcsm_tui.widgets.line_table import Column, LineTable, Row

COLUMNS = (
    Column("Charger", SortKey.CHARGER.value, 10),
    Column("Start", SortKey.START.value, 16),
    Column("End", SortKey.END.value, 16),
    Column("Duration", SortKey.DURATION.value, 8, "right"),
    Column("kWh", SortKey.ENERGY.value, 7, "right"),
    Column("Stop reason", SortKey.REASON.value, 8, grow=True),
)


class SessionTable(LineTable):
    """One row per session; only the rows on screen are drawn."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(self._columns_for(HistoryView()), id=id)
        self._sessions: dict[str, ChargingSession] = {}
        self._now: datetime | None = None
        self._tz: tzinfo | None = None

    def show(self, view: HistoryView, now: datetime, tz: tzinfo | None) -> None:
        """Replace the rows with the view's sessions."""
        rows = view.rows(now)
        self._sessions = {session.session_id: session for session in rows}
        self._now, self._tz = now, tz
        self.set_columns(self._columns_for(view))
        self.set_rows(tuple(self._sessions))
        self.update_rows()

    def row_cells(self, key: str) -> Row:
        """One session's figures."""
        session = self._sessions[key]
        tz = self._tz
        now = self._now or session.updated_at
        reason = session.stop_reason or ("charging" if session.active else fmt.DASH)
        return tuple(
            ((text, None),)
            for text in (
                session.charger_id,
                fmt.minute(session.start_time, tz),
                fmt.end_minute(session.start_time, session.end_time, tz),
                fmt.duration(session.duration_s(now)),
                fmt.kwh(session.energy_consumed),
                reason,
            )
        )

    @staticmethod
    def _columns_for(view: HistoryView) -> list[Column]:
        arrow = " ↓" if view.descending else " ↑"
        return [
            replace(column, label=column.label + arrow) if column.key == view.sort else column
            for column in COLUMNS
        ]
