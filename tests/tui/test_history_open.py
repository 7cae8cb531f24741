"""Opening the history: the screen is ready before `h`, its request leaves before it is drawn,
and a first page shows before all of them."""

import asyncio
from datetime import UTC, timedelta
from pathlib import Path

from evcsm_schema import (
    ChargingSession,
    SessionPage,
    SessionQuery,
    SessionQueryReply,
    SessionStatus,
)
from evcsm_tui import history
from evcsm_tui.app import HISTORY, EvcsmApp
from evcsm_tui.client import Sent
from evcsm_tui.screens.dashboard import DashboardScreen
from evcsm_tui.screens.history import HistoryScreen

from tests.tui.data import NOW, session
from tests.tui.fake import FixedLink
from tests.tui.harness import label, row, table_rows, wait_until

STORED = tuple(
    session(
        f"CP{n % 4 + 1}",
        n + 1,
        started=timedelta(minutes=10 * n + 5),
        energy_kwh=1.0,
        ended=timedelta(minutes=10 * n),
        reason="Battery full",
    )
    for n in range(250)
)
"""More sessions than a first page, fewer than all a history holds; newest first."""


class StoredLink(FixedLink):
    """Serves `STORED` as the daemon would, newest first; records every query, and holds each
    reply until `release` allows it when `hold` is set."""

    def __init__(self, *, hold: bool = False) -> None:
        super().__init__()
        self.queries: list[SessionQuery] = []
        self.sent_told = 0
        self.hold = hold
        self.release = asyncio.Semaphore(0)

    async def query_sessions(
        self, query: SessionQuery, sent: Sent | None = None
    ) -> SessionQueryReply:
        self.queries.append(query)
        if sent is not None:
            self.sent_told += 1
            sent()
        if self.hold:
            await self.release.acquire()
        matching = [
            s
            for s in STORED
            if query.charger_id in (None, s.charger_id) and query.status in (None, s.status)
        ]
        items = matching[query.offset : query.offset + query.limit]
        page = SessionPage(items=items, total=len(matching), limit=query.limit, offset=0)
        return SessionQueryReply(ok=True, page=page)


def stored_app(link: FixedLink, tmp_path: Path) -> EvcsmApp:
    return EvcsmApp(link, export_dir=tmp_path, now=lambda: NOW, tz=UTC)


def prepared(app: EvcsmApp) -> HistoryScreen | None:
    """The history screen once the app has prepared it, mounted and off screen."""
    try:
        [screen] = app.get_screen_stack(HISTORY)
    except KeyError:
        return None
    return screen if isinstance(screen, HistoryScreen) and screen.is_mounted else None


async def test_the_history_is_ready_before_h_and_asks_nothing_until_shown(
    tmp_path: Path,
) -> None:
    link = StoredLink()
    app = stored_app(link, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, "fleet shown", lambda: bool(row(app, "DEPOT-04")))
        await wait_until(pilot, "the history prepared", lambda: prepared(app) is not None)
        ready = prepared(app)
        assert ready is not None
        assert ready.query_one("#sessions")  # composed: its table is there already
        assert isinstance(shown := app.screen, DashboardScreen), shown
        await pilot.pause()
        assert link.queries == []  # prepared off screen, it fetched nothing

        await pilot.press("h")
        await wait_until(pilot, "all listed", lambda: len(table_rows(app, "#sessions")) == 250)
        assert app.screen is ready  # the prepared screen, not a new one
        assert link.sent_told == 1  # the first request said when it left

        await pilot.press("escape")
        await wait_until(pilot, "the dashboard", lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("h")
        await wait_until(pilot, "fetched again", lambda: len(link.queries) == 4)
        assert app.screen is ready


async def test_a_first_page_shows_with_its_total_then_all_of_them(tmp_path: Path) -> None:
    link = StoredLink(hold=True)
    app = stored_app(link, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, "fleet shown", lambda: bool(row(app, "DEPOT-04")))
        await pilot.press("h")
        await wait_until(pilot, "the first request", lambda: len(link.queries) == 1)
        assert label(app, "#totals") == "fetching sessions from the daemon…"

        link.release.release()
        await wait_until(pilot, "the first page", lambda: len(table_rows(app, "#sessions")) == 100)
        totals = label(app, "#totals")
        assert totals.startswith("100 sessions (of 250)   100.00 kWh   8:20:00 charging")
        assert totals.endswith(f"fetching up to {history.QUERY_LIMIT}…")
        first_rows = table_rows(app, "#sessions")
        assert [q.limit for q in link.queries] == [history.FIRST_PAGE, history.QUERY_LIMIT]
        assert all(q.offset == 0 for q in link.queries)  # all of them again: one snapshot

        link.release.release()
        await wait_until(pilot, "all of them", lambda: len(table_rows(app, "#sessions")) == 250)
        assert label(app, "#totals").startswith("250 sessions   250.00 kWh")
        assert "fetching" not in label(app, "#totals")
        assert table_rows(app, "#sessions")[:100] == first_rows  # newest first, as before


async def test_a_filter_changed_while_the_rest_comes_shows_the_filter_only(
    tmp_path: Path,
) -> None:
    link = StoredLink(hold=True)
    app = stored_app(link, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, "fleet shown", lambda: bool(row(app, "DEPOT-04")))
        await pilot.press("h")
        link.release.release()
        await wait_until(pilot, "the first page", lambda: len(link.queries) == 2)

        await pilot.press("c")  # CP1 while all 1,000 are on their way
        await wait_until(pilot, "CP1 asked for", lambda: len(link.queries) == 3)
        link.hold = False
        for _ in range(3):
            link.release.release()
        await wait_until(pilot, "CP1 listed", lambda: len(table_rows(app, "#sessions")) == 63)
        assert {r[0] for r in table_rows(app, "#sessions")} == {"CP1"}
        assert label(app, "#totals").startswith("63 sessions   63.00 kWh")
        assert [(q.charger_id, q.limit) for q in link.queries[2:]] == [("CP1", 100)]


async def test_a_short_history_is_asked_for_once(tmp_path: Path) -> None:
    link = StoredLink()
    app = stored_app(link, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, "fleet shown", lambda: bool(row(app, "DEPOT-04")))
        await pilot.press("h")
        await wait_until(pilot, "listed", lambda: len(table_rows(app, "#sessions")) == 250)
        await pilot.press("t")  # Charging: none of them
        await wait_until(pilot, "none charging", lambda: not table_rows(app, "#sessions"))
        assert link.queries[-1].status is SessionStatus.CHARGING
        assert link.queries[-1].limit == history.FIRST_PAGE  # no page left to ask for
        assert label(app, "#totals").startswith("0 sessions")


def test_the_rest_is_asked_for_only_when_the_first_page_is_not_all() -> None:
    def first(count: int, total: int) -> SessionPage:
        items: list[ChargingSession] = list(STORED[:count])
        return SessionPage(items=items, total=total, limit=history.FIRST_PAGE, offset=0)

    assert history.has_more(first(100, 250))
    assert history.has_more(first(100, 100_000))
    assert not history.has_more(first(100, 100))
    assert not history.has_more(first(7, 7))
    assert not history.has_more(first(0, 0))
