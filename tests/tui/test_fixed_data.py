"""With fixed data and a fixed clock: the dashboard and the history at 80x24 and 120x40, and a
simulated fleet on a read-only dashboard (pytest-textual-snapshot; after an intended change of
look, regenerate with `uv run pytest tests/tui/test_fixed_data.py --snapshot-update`), and a
link that fails."""

import asyncio
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

import pytest
from evcsm_schema import Availability, CommandAction, CommandReply, topics
from evcsm_tui.app import EvcsmApp
from evcsm_tui.client import Accepted, Sink
from evcsm_tui.errors import NotAuthorised
from evcsm_tui.state import LinkChange, LinkStatus
from evcsm_tui.widgets.charger_detail import ChargerDetail
from evcsm_tui.widgets.charger_table import ChargerTable
from textual.pilot import Pilot

from tests.tui.data import CP1_TICKS, FLEET, NOW, OCPP_FLEET
from tests.tui.fake import FixedLink
from tests.tui.harness import Notes, label, row, table_rows, wait_until

SnapCompare = Callable[..., bool]
"""pytest-textual-snapshot's `snap_compare` fixture."""

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


def fixed_app(tmp_path: Path) -> EvcsmApp:
    return EvcsmApp(FixedLink(), export_dir=tmp_path, now=lambda: NOW, tz=UTC)


@pytest.mark.parametrize("size", SIZES)
def test_dashboard(size: tuple[int, int], tmp_path: Path, snap_compare: SnapCompare) -> None:
    app = fixed_app(tmp_path)

    async def settle(pilot: Pilot[None]) -> None:
        await wait_until(pilot, "fleet shown", lambda: row(app, "DEPOT-04").get("status") == "Idle")
        await wait_until(pilot, "CP1 readings", lambda: row(app, "CP1").get("energy") == "15.16")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_history(size: tuple[int, int], tmp_path: Path, snap_compare: SnapCompare) -> None:
    app = fixed_app(tmp_path)

    async def settle(pilot: Pilot[None]) -> None:
        await wait_until(pilot, "fleet shown", lambda: bool(row(app, "DEPOT-04")))
        await pilot.press("h")
        await wait_until(pilot, "sessions listed", lambda: len(table_rows(app, "#sessions")) == 7)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=settle)


def test_a_filtered_dashboard(tmp_path: Path, snap_compare: SnapCompare) -> None:
    app = fixed_app(tmp_path)

    async def settle(pilot: Pilot[None]) -> None:
        await wait_until(pilot, "CP1 readings", lambda: row(app, "CP1").get("energy") == "15.16")
        await pilot.press("f", "slash", "c", "p", "enter")  # Charging, id containing "cp"
        await wait_until(pilot, "filter line", lambda: "2 of 4" in label(app, "#filter-line"))
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


class ViewerLink(FixedLink):
    """The fleet simulated at x10, seen by a login the broker takes no commands from."""

    label = "mqtt://evcsm-viewer@broker.site.example:1883"

    def __init__(self) -> None:
        fleet = [c.model_copy(update={"simulation_speed": 10.0}) for c in FLEET]
        super().__init__(
            (LinkChange(LinkStatus.CONNECTED), Availability.ONLINE, *fleet, *CP1_TICKS)
        )

    async def command(
        self, charger_id: str, action: CommandAction, accepted: Accepted | None = None
    ) -> CommandReply:
        topic = topics.charger_command(charger_id, action)
        raise NotAuthorised(f"not authorised: the broker does not let evcsm-viewer publish {topic}")


def test_a_simulated_fleet_on_a_read_only_dashboard(
    tmp_path: Path, snap_compare: SnapCompare
) -> None:
    app = EvcsmApp(ViewerLink(), export_dir=tmp_path, now=lambda: NOW, tz=UTC)

    async def settle(pilot: Pilot[None]) -> None:
        await wait_until(pilot, "fleet shown", lambda: bool(row(app, "DEPOT-04")))
        await pilot.press("j", "s")  # CP2, whose last session stopped; the broker refuses
        await wait_until(pilot, "read-only", lambda: app.screen.query_one("#read-only").display)
        app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


class FailingOnceLink(FixedLink):
    """Fails on its first run, as a bug in the link would, then works."""

    def __init__(self) -> None:
        super().__init__()
        self.runs = 0

    async def run(self, sink: Sink) -> None:
        self.runs += 1
        if self.runs == 1:
            raise RuntimeError("a bug in the link")
        await super().run(sink)


async def test_a_failing_link_is_reported_and_restarted(tmp_path: Path) -> None:
    link = FailingOnceLink()
    app = EvcsmApp(link, export_dir=tmp_path, now=lambda: NOW, tz=UTC)
    notes = Notes()
    async with app.run_test(size=(80, 24), message_hook=notes.hook) as pilot:
        await wait_until(
            pilot, "a notification", lambda: notes.find("error", "Internal error") is not None
        )
        await wait_until(pilot, "the fleet after the restart", lambda: bool(row(app, "DEPOT-04")))
        assert link.runs == 2
        assert app.is_running


async def test_history_keys_filter_sort_and_reverse(tmp_path: Path) -> None:
    app = fixed_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, "fleet shown", lambda: bool(row(app, "DEPOT-04")))
        await pilot.press("h")
        await wait_until(pilot, "sessions listed", lambda: len(table_rows(app, "#sessions")) == 7)

        await pilot.press("c")  # the first charger: CP1
        await wait_until(pilot, "CP1 only", lambda: len(table_rows(app, "#sessions")) == 2)
        assert {r[0] for r in table_rows(app, "#sessions")} == {"CP1"}
        assert label(app, "#totals").startswith("2 sessions   46.52 kWh")

        await pilot.press("c", "c", "c", "c")  # CP2, CP3, DEPOT-04, back to all
        await pilot.press("t", "t")  # Charging, then Stopped
        await wait_until(pilot, "stopped ones", lambda: len(table_rows(app, "#sessions")) == 5)
        assert label(app, "#filters").startswith("charger: all   status: Stopped")

        await pilot.press("o", "o", "o", "o")  # start → end → charger → duration → energy
        await wait_until(pilot, "by energy", lambda: "sort: energy ↓" in label(app, "#filters"))
        assert [r[4] for r in table_rows(app, "#sessions")] == [
            "48.06",
            "31.72",
            "6.250",
            "5.904",
            "0.000",
        ]
        await pilot.press("i")
        await wait_until(pilot, "reversed", lambda: table_rows(app, "#sessions")[0][4] == "0.000")


async def test_a_resize_keeps_the_dashboard_whole(tmp_path: Path) -> None:
    app = fixed_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, "fleet shown", lambda: bool(row(app, "DEPOT-04")))
        await pilot.resize_terminal(80, 24)
        await wait_until(pilot, "the new size", lambda: app.size == (80, 24))
        await pilot.pause()
        assert row(app, "CP1")["status"] == "Charging"
        assert app.screen.query_one(ChargerDetail).region.bottom <= 23  # above the footer


class StationLink(FixedLink):
    """OCPP chargers beside a simulated one; a start is accepted, and its outcome never comes."""

    def __init__(self) -> None:
        super().__init__((LinkChange(LinkStatus.CONNECTED), Availability.ONLINE, *OCPP_FLEET))
        self.waiting = asyncio.Event()

    async def command(
        self, charger_id: str, action: CommandAction, accepted: Accepted | None = None
    ) -> CommandReply:
        first = CommandReply(
            ok=True, charger_id=charger_id, action=action.value, pending=True, request_id="r-1"
        )
        if accepted is not None:
            accepted(first)
        await self.waiting.wait()
        return first


def test_ocpp_chargers_pending_start_and_a_fault(tmp_path: Path, snap_compare: SnapCompare) -> None:
    link = StationLink()
    app = EvcsmApp(link, export_dir=tmp_path, now=lambda: NOW, tz=UTC)

    async def settle(pilot: Pilot[None]) -> None:
        await wait_until(pilot, "fleet shown", lambda: bool(row(app, "YARD-3-1")))
        assert row(app, "YARD-2-1")["status"] == "Offline"
        await pilot.press("down", "down", "down", "down")
        await wait_until(pilot, "YARD-3-1 selected", lambda: selected(app) == "YARD-3-1")
        await pilot.press("s")
        await wait_until(
            pilot, "start pending", lambda: row(app, "YARD-3-1")["status"] == "Idle (start…)"
        )
        await pilot.press("up", "up")
        await wait_until(pilot, "LAB-7-2 selected", lambda: selected(app) == "LAB-7-2")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 40), run_before=settle)


def selected(app: EvcsmApp) -> str | None:
    return app.screen.query_one(ChargerTable).selected
