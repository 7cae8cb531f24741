"""Session history: past sessions from the daemon, sorted, filtered, totalled and exported."""

import asyncio
from dataclasses import replace
from typing import ClassVar

from evcsm_schema import SessionPage, SessionStatus
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Label

from evcsm_tui import history
from evcsm_tui.client import Sent
from evcsm_tui.errors import RequestError
from evcsm_tui.history import HistoryView, SortKey
from evcsm_tui.screens.base import EvcsmScreen
from evcsm_tui.widgets.footer import KeysFooter
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
    """No page yet from the fetch that runs: the rows fetched before stay."""
    fetching_more: reactive[bool] = reactive(default=False)
    """The first page is shown and all `QUERY_LIMIT` are on their way."""
    _opening = False
    """Set by `open`: the fetch has left already when the screen is shown."""

    def compose(self) -> ComposeResult:
        """Header, filters, table, totals, footer."""
        yield StatusBar("EVCSM · history", self.evcsm.link.label, id="status")
        yield Label(id="filters")
        yield SessionTable(id="sessions")
        yield Label(id="totals")
        yield KeysFooter()

    def on_mount(self) -> None:
        """Follow the connection state in the header."""
        self.watch(self.host_node, "state", self.query_one(StatusBar).show)

    def open(self, sent: Sent) -> None:
        """Fetch the sessions now, before the screen is shown, so that the daemon answers while
        the screen is drawn; `sent` hears when the request has left, or that none will (the
        app calls this, waits for `sent`, then switches to the screen)."""
        self._opening = True
        self._fetch(sent)

    def on_screen_resume(self) -> None:
        """Fetch the sessions each time the screen is shown, unless `open` did (a screen
        prepared off screen fetches nothing)."""
        if not self.is_current:
            return
        if self._opening:
            self._opening = False
            return
        self.action_reload()

    def watch_view(self, view: HistoryView) -> None:
        """Show the view."""
        self.query_one("#filters", Label).update(Content(history.describe(view)))
        self.query_one(SessionTable).show(view, self.evcsm.now(), self.evcsm.tz)
        self._show_totals()

    def watch_loading_sessions(self) -> None:
        """Say on the totals line that a fetch is running."""
        self._show_totals()

    def watch_fetching_more(self) -> None:
        """Say on the totals line that more sessions are coming."""
        self._show_totals()

    def _show_totals(self) -> None:
        if self.loading_sessions:
            line = "fetching sessions from the daemon…"
        else:
            line = history.totals_line(
                self.view, self.evcsm.now(), fetching_more=self.fetching_more
            )
        self.query_one("#totals", Label).update(Content(line))

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
    async def _fetch(self, sent: Sent | None = None) -> None:
        """A first page at once, then all `QUERY_LIMIT` when the daemon holds more; `sent`
        hears when the first request has left, or that it will not."""
        asked = self.view
        self.loading_sessions = True
        try:
            first = await self._page(asked, history.FIRST_PAGE, sent)
            self.loading_sessions = False
            more = first is not None and history.has_more(first)
            if first is None or not self._show_page(asked, first, more=more) or not more:
                return
            rest = await self._page(asked, history.QUERY_LIMIT)
            if rest is not None:
                self._show_page(asked, rest, more=False)
        finally:
            self.loading_sessions = False
            self.fetching_more = False
            if sent is not None:
                sent()

    async def _page(
        self, asked: HistoryView, limit: int, sent: Sent | None = None
    ) -> SessionPage | None:
        """The daemon's page of `limit` for the view's filters; None, and a notification,
        when there is none."""
        try:
            reply = await self.evcsm.link.query_sessions(asked.query(limit), sent)
        except RequestError as exc:
            self.notify(str(exc), title="History unavailable", severity="error")
            return None
        if not reply.ok or reply.page is None:
            message = reply.error.message if reply.error else "no page in the reply"
            self.notify(message, title="History refused", severity="error")
            return None
        return reply.page

    def _show_page(self, asked: HistoryView, page: SessionPage, *, more: bool) -> bool:
        """Show `page`, unless the filters changed since it was asked for; `more`: all
        `QUERY_LIMIT` are asked for next."""
        if (self.view.charger, self.view.status) != (asked.charger, asked.status):
            return False
        self.fetching_more = more
        self.view = replace(self.view, sessions=tuple(page.items), total=page.total)
        return True

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
