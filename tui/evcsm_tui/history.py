"""The session history: sorting, filters, totals and the CSV export of what is shown.

Pure: the history screen fetches sessions through the link and asks this module what to show.
"""

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import Any, TypeVar

from evcsm_schema import ChargingSession, SessionPage, SessionQuery, SessionStatus

from evcsm_tui import fmt

QUERY_LIMIT = 1000
"""Sessions the history holds: the daemon's maximum page."""
FIRST_PAGE = 100
"""Sessions asked for first: more than a screenful on any terminal, and a tenth of the reply to
wait for. The history shows them at once, then asks for all `QUERY_LIMIT` again (one snapshot,
as a single request gave) and shows those."""

T = TypeVar("T")


class SortKey(StrEnum):
    """The columns the history can be sorted by, in the order `o` cycles through them."""

    START = "start"
    END = "end"
    CHARGER = "charger"
    DURATION = "duration"
    ENERGY = "energy"
    REASON = "reason"


@dataclass(frozen=True)
class HistoryView:
    """What the history screen shows: the filters, the order and the fetched page."""

    charger: str | None = None
    status: SessionStatus | None = None
    sort: SortKey = SortKey.START
    descending: bool = True
    sessions: tuple[ChargingSession, ...] = ()
    total: int = 0
    """How many sessions match the filters on the daemon (may exceed those fetched)."""

    def query(self, limit: int = QUERY_LIMIT) -> SessionQuery:
        """The request that fetches this view's newest `limit` sessions."""
        return SessionQuery(charger_id=self.charger, status=self.status, limit=limit)

    def rows(self, now: datetime) -> list[ChargingSession]:
        """The fetched sessions in the chosen order."""
        return sort_sessions(self.sessions, self.sort, descending=self.descending, now=now)


@dataclass(frozen=True)
class Totals:
    """Sums over the shown sessions."""

    count: int
    energy_kwh: float
    duration_s: float


def cycle(options: Sequence[T], current: T) -> T:
    """The option after `current`, wrapping around."""
    index = options.index(current) if current in options else -1
    return options[(index + 1) % len(options)]


def sort_sessions(
    sessions: Iterable[ChargingSession], key: SortKey, *, descending: bool, now: datetime
) -> list[ChargingSession]:
    """Sessions ordered by `key`; ties keep start-time order, and missing values sort last."""
    by_start = sorted(sessions, key=lambda s: s.start_time, reverse=descending)
    extract = _extractors(now)[key]
    present = [s for s in by_start if extract(s) is not None]
    missing = [s for s in by_start if extract(s) is None]
    return sorted(present, key=extract, reverse=descending) + missing


def _extractors(now: datetime) -> dict[SortKey, Callable[[ChargingSession], Any]]:
    return {
        SortKey.START: lambda s: s.start_time,
        SortKey.END: lambda s: s.end_time,
        SortKey.CHARGER: lambda s: s.charger_id,
        SortKey.DURATION: lambda s: s.duration_s(now),
        SortKey.ENERGY: lambda s: s.energy_consumed,
        SortKey.REASON: lambda s: s.stop_reason,
    }


def totals(sessions: Iterable[ChargingSession], now: datetime) -> Totals:
    """Count, energy and time over `sessions`."""
    shown = list(sessions)
    return Totals(
        count=len(shown),
        energy_kwh=sum(s.energy_consumed for s in shown),
        duration_s=sum(s.duration_s(now) for s in shown),
    )


CSV_COLUMNS = (
    "sessionId",
    "chargerId",
    "status",
    "startTime",
    "endTime",
    "durationSeconds",
    "energyKwh",
    "stopReason",
)


def to_csv(sessions: Iterable[ChargingSession], now: datetime) -> str:
    """The sessions as CSV, with ISO 8601 UTC times and full-precision energy."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for s in sessions:
        writer.writerow(
            (
                s.session_id,
                s.charger_id,
                s.status.value,
                s.start_time.isoformat(),
                s.end_time.isoformat() if s.end_time else "",
                f"{s.duration_s(now):.0f}",
                f"{s.energy_consumed:.3f}",
                s.stop_reason or "",
            )
        )
    return out.getvalue()


def export_name(now: datetime, tz: tzinfo | None) -> str:
    """The file name of an export taken at `now`."""
    return f"evcsm-sessions-{fmt.file_stamp(now, tz)}.csv"


def describe(view: HistoryView) -> str:
    """One line naming the filters and the order."""
    order = "↓" if view.descending else "↑"
    charger = view.charger or "all"
    status = view.status.value if view.status else "all"
    return f"charger: {charger}   status: {status}   sort: {view.sort.value} {order}"


def has_more(first: SessionPage) -> bool:
    """True when the first page is not all the history may hold: the rest is worth asking for."""
    return len(first.items) < min(first.total, QUERY_LIMIT)


def totals_line(view: HistoryView, now: datetime, *, fetching_more: bool = False) -> str:
    """The totals under the table, saying when the daemon holds more than was fetched, and
    when more are on their way."""
    sums = totals(view.sessions, now)
    more = f" (of {view.total})" if view.total > sums.count else ""
    coming = f"   fetching up to {QUERY_LIMIT}…" if fetching_more else ""
    return (
        f"{sums.count} sessions{more}   {fmt.kwh(sums.energy_kwh)} kWh   "
        f"{fmt.duration(sums.duration_s)} charging{coming}"
    )
