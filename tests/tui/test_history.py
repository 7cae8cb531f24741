"""History: sorting, filters, totals and the CSV export."""

import csv
import io
from datetime import UTC

import pytest
from evcsm_schema import SessionStatus
from evcsm_tui import history
from evcsm_tui.history import HistoryView, SortKey

from tests.tui.data import HISTORY, NOW


def ids(view: HistoryView) -> list[int]:
    return [int(s.session_id[:8], 16) for s in view.rows(NOW)]


@pytest.mark.parametrize(
    ("key", "descending", "order"),
    [
        (SortKey.START, True, [3, 1, 2, 4, 5, 6, 7]),
        (SortKey.START, False, [7, 6, 5, 4, 2, 1, 3]),
        (SortKey.ENERGY, True, [6, 4, 1, 2, 5, 3, 7]),
        (SortKey.CHARGER, False, [4, 1, 7, 2, 5, 3, 6]),
        (SortKey.DURATION, True, [6, 4, 7, 5, 2, 1, 3]),
        (SortKey.END, True, [2, 4, 5, 6, 7, 3, 1]),  # running sessions have no end: last
        (SortKey.REASON, False, [6, 4, 2, 5, 7, 1, 3]),
    ],
)
def test_sorting(key: SortKey, descending: bool, order: list[int]) -> None:
    view = HistoryView(sort=key, descending=descending, sessions=HISTORY)
    assert ids(view) == order


def test_filters_go_into_the_query() -> None:
    query = HistoryView(charger="CP3", status=SessionStatus.STOPPED).query()
    assert query.charger_id == "CP3"
    assert query.status is SessionStatus.STOPPED
    assert query.limit == history.QUERY_LIMIT
    assert HistoryView().query().charger_id is None


def test_cycle_wraps_and_starts_over_for_an_unknown_value() -> None:
    options = [None, "CP1", "CP2"]
    assert history.cycle(options, None) == "CP1"
    assert history.cycle(options, "CP2") is None
    assert history.cycle(options, "gone") is None


def test_totals_line_counts_sums_and_says_when_more_exist() -> None:
    view = HistoryView(sessions=HISTORY[:3], total=3)
    sums = history.totals(view.sessions, NOW)
    assert sums.count == 3
    assert sums.energy_kwh == pytest.approx(14.8 + 0.412 + 6.25)
    assert sums.duration_s == (42 * 60 + 7) + (3 * 60 + 30) + 53 * 60
    assert history.totals_line(view, NOW) == "3 sessions   21.46 kWh   1:38:37 charging"
    assert "3 sessions (of 40)" in history.totals_line(replace_total(view, 40), NOW)


def replace_total(view: HistoryView, total: int) -> HistoryView:
    return HistoryView(sessions=view.sessions, total=total)


def test_csv_has_every_shown_row_in_full_precision() -> None:
    text = history.to_csv(HistoryView(sessions=HISTORY).rows(NOW), NOW)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["sessionId"] for r in rows] == [
        s.session_id for s in HistoryView(sessions=HISTORY).rows(NOW)
    ]
    depot = next(r for r in rows if r["chargerId"] == "DEPOT-04")
    assert depot == {
        "sessionId": "00000006-0000-4000-8000-000000000006",
        "chargerId": "DEPOT-04",
        "status": "Stopped",
        "startTime": "2026-03-01T12:30:00+00:00",
        "endTime": "2026-03-01T14:30:00+00:00",
        "durationSeconds": "7200",
        "energyKwh": "48.060",
        "stopReason": "Battery full",
    }
    running = next(r for r in rows if r["chargerId"] == "CP3" and r["status"] == "Charging")
    assert running["endTime"] == ""
    assert running["stopReason"] == ""


def test_export_name_and_description() -> None:
    assert history.export_name(NOW, UTC) == "evcsm-sessions-20260302-143000.csv"
    view = HistoryView(charger="CP1", sort=SortKey.ENERGY, descending=False)
    assert history.describe(view) == "charger: CP1   status: all   sort: energy ↑"
