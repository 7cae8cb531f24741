"""History benchmark, the dashboard's side: from `h` to the sessions on screen.

    uv run python -m bench.history --sessions 100000 --runs 10

The dashboard runs headless (Textual's test driver, 120x40) against a link that answers the
history query with the reply the daemon would send for a store of `--sessions` sessions: the
newest page of 1,000 (the dashboard's page size) with the total, serialised to JSON once and
decoded at every query, as it arrives from the broker. What is timed is the dashboard's share:
switching screens, decoding the reply, sorting, and drawing the table, until the first session
is on screen. The daemon's share (the store's page of 50 among 100,000 takes 0.1-25 ms) and the
broker's round trip are in `bench.store` and `bench.fleet`.

`PYTHONPATH=OTHER/tui:OTHER/shared` measures another checkout's dashboard.
"""

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta

from evcsm_schema import (
    ChargingSession,
    CommandAction,
    CommandReply,
    SessionPage,
    SessionQuery,
    SessionQueryReply,
    SessionStatus,
)
from evcsm_tui.app import EvcsmApp
from evcsm_tui.client import Sink
from evcsm_tui.state import LinkChange, LinkStatus

from bench.stats import Spread

NOW = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
PAGE = 1000


def reply_bytes(total: int) -> bytes:
    """The daemon's reply to the dashboard's query: the newest page among `total` sessions."""
    items = []
    for number in range(min(PAGE, total)):
        start = NOW - timedelta(minutes=number + 30)
        end = start + timedelta(minutes=20)
        items.append(
            ChargingSession(
                session_id=f"{number:08x}-0000-4000-8000-000000000000",
                charger_id=f"CP{number % 100:04d}",
                status=SessionStatus.STOPPED,
                start_time=start,
                end_time=end,
                energy_consumed=7.333,
                meter_start_wh=1_000_000,
                meter_wh=1_007_333,
                power_kw=0.0,
                stop_reason="Stopped by operator",
                updated_at=end,
            )
        )
    page = SessionPage(items=items, total=total, limit=PAGE, offset=0)
    return SessionQueryReply(ok=True, page=page).to_json()


class ReplyLink:
    """Connected at once; answers every history query with the same reply, decoded anew."""

    label = "mqtt://bench.invalid:1883"

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    async def run(self, sink: Sink) -> None:
        sink(LinkChange(LinkStatus.CONNECTED))
        await asyncio.Event().wait()

    async def command(self, charger_id: str, action: CommandAction) -> CommandReply:
        raise NotImplementedError(f"{action} {charger_id}: the benchmark sends no commands")

    async def query_sessions(self, query: SessionQuery) -> SessionQueryReply:
        del query
        return SessionQueryReply.model_validate_json(self.raw)


def shown_rows(app: EvcsmApp) -> int:
    """How many sessions the history's table holds (either widget the dashboard used)."""
    table = app.screen.query_one("#sessions")
    keys = getattr(table, "keys", None)
    return len(keys) if keys is not None else int(getattr(table, "row_count", 0))


async def measure(total: int, runs: int) -> list[float]:
    """Seconds from `h` to the sessions drawn, the first time, in `runs` fresh dashboards."""
    raw = reply_bytes(total)
    timings = []
    for _ in range(runs):
        app = EvcsmApp(ReplyLink(raw), now=lambda: NOW, tz=UTC)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.5)
            started = time.perf_counter()
            await pilot.press("h")
            while not app.screen.query("#sessions") or shown_rows(app) < min(PAGE, total):  # noqa: ASYNC110 - polls the screen, which has no event to wait on
                await asyncio.sleep(0.001)
            await pilot.pause()  # the frame with the rows is drawn
            timings.append(time.perf_counter() - started)
    return timings


def main(argv: list[str] | None = None) -> int:
    """Print the spread of the timings."""
    parser = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10)
    options = parser.parse_args(argv)
    timings = asyncio.run(measure(options.sessions, options.runs))
    spread = Spread.of(timings)
    print(
        f"history opened with {options.sessions:,} stored sessions (a page of {PAGE:,} shown):"
        f" p50 / p99 / max {spread.ms()} ms over {spread.count} runs"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
