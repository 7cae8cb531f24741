"""Session history: past sessions from the daemon, sorted, filtered, totalled and exported."""

import asyncio
from dataclasses import replace
from typing import ClassVar

from evcsm_schema import SessionStatus
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Footer, Label

from evcsm_tui import history
from evcsm_tui.errors import RequestError
from evcsm_tui.history import HistoryView, SortKey
from evcsm_tui.screens.base import EvcsmScreen
from evcsm_tui.widgets.session_table import SessionTable
from evcsm_tui.widgets.status_bar import StatusBar

FILTER = Binding.Group("Filter")
SORT = Binding.Group("Sort")
STATUSES: tuple[SessionStatus | None, ...] = (None, *SessionStatus)


class HistoryScreen(EvcsmScreen):
    """The sessions table between a filter line and a totals line."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,h", "app.switch_mode('dashboard')", "Back", key_display="esc"),
        Binding("c", "filter_charger", "Charger", group=FILTER, tooltip="Filter by charger"),
        Binding("t", "filter_status", "Status", group=FILTER, tooltip="Filter by status"),
        Binding("o", "sort", "Column", group=SORT, tooltip="Sort by the next column"),
        Binding("i", "reverse", "Reverse", group=SORT, tooltip="Reverse the order"),
        Binding("e", "export", "CSV", tooltip="Export the shown rows to CSV"),
        Binding("r", "reload", "Reload", tooltip="Fetch the sessions again"),
    ]

    view: reactive[HistoryView] = reactive(HistoryView, always_update=True)
    loading_sessions: reactive[bool] = reactive(default=False)

    def compose(self) -> ComposeResult:
        """Header, filters, table, totals, footer."""
        yield StatusBar("EVCSM · history", self.evcsm.link.label, id="status")
        yield Label(id="filters")
        yield SessionTable(id="sessions")
        yield Label(id="totals")
        yield Footer()

    def on_mount(self) -> None:
        """Follow the connection state in the header."""
        self.watch(self.host_node, "state", self.query_one(StatusBar).show)

    def on_screen_resume(self) -> None:
        """Fetch the sessions each time the screen is shown."""
        self.action_reload()

    def watch_view(self, view: HistoryView) -> None:
        """Show the view."""
        now = self.evcsm.now()
        self.query_one("#filters", Label).update(Content(history.describe(view)))
        self.query_one(SessionTable).show(view, now, self.evcsm.tz)
        self.query_one("#totals", Label).update(Content(history.totals_line(view, now)))

    def watch_loading_sessions(self, loading: bool) -> None:  # noqa: FBT001 - Textual's watcher
        """Say on the totals line that a fetch is running (the rows fetched before stay)."""
        line = "fetching sessions from the daemon…" if loading else None
        totals = line or history.totals_line(self.view, self.evcsm.now())
        self.query_one("#totals", Label).update(Content(totals))

    def action_filter_charger(self) -> None:
        """Cycle the charger filter through every known charger."""
        known = set(self.evcsm.state.chargers) | {s.charger_id for s in self.view.sessions}
        options: list[str | None] = [None, *sorted(known)]
        self.view = replace(self.view, charger=history.cycle(options, self.view.charger))
        self.action_reload()

    def action_filter_status(self) -> None:
        """Cycle the status filter: all, Charging, Stopped."""
        self.view = replace(self.view, status=history.cycle(STATUSES, self.view.status))
        self.action_reload()

    def action_sort(self) -> None:
        """Sort by the next column."""
        self.view = replace(self.view, sort=history.cycle(list(SortKey), self.view.sort))

    def action_reverse(self) -> None:
        """Reverse the order."""
        self.view = replace(self.view, descending=not self.view.descending)

    def action_reload(self) -> None:
        """Fetch the sessions again."""
        self._fetch()

    def action_export(self) -> None:
        """Write the shown rows to a CSV file."""
        self._export()

    @work(exclusive=True, group="history-fetch", exit_on_error=False)
    async def _fetch(self) -> None:
        asked = self.view
        self.loading_sessions = True
        try:
            reply = await self.evcsm.link.query_sessions(asked.query())
        except RequestError as exc:
            self.notify(str(exc), title="History unavailable", severity="error")
            return
        finally:
            self.loading_sessions = False
        if not reply.ok or reply.page is None:
            message = reply.error.message if reply.error else "no page in the reply"
            self.notify(message, title="History refused", severity="error")
            return
        if (self.view.charger, self.view.status) == (asked.charger, asked.status):
            page = reply.page
            self.view = replace(self.view, sessions=tuple(page.items), total=page.total)

    @work(group="history-export", exit_on_error=False)
    async def _export(self) -> None:
        now = self.evcsm.now()
        rows = self.view.rows(now)
        target = self.evcsm.export_dir / history.export_name(now, self.evcsm.tz)
        text = history.to_csv(rows, now)
        try:
            await asyncio.to_thread(target.write_text, text, encoding="utf-8")
        except OSError as exc:
            self.notify(str(exc), title="Export failed", severity="error")
            return
        self.notify(f"{len(rows)} sessions written to {target}", title="Exported")
