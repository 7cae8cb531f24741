"""A few hundred chargers: every row reads right, filters keep the selection, and a reading
repaints only the cells it changes (correctness, not speed: bench/dashboard.py measures that)."""

from datetime import UTC, timedelta
from typing import Any

from evcsm_schema import Availability, ChargerState, FleetUpdate
from evcsm_tui.app import EvcsmApp
from evcsm_tui.screens.dashboard import DashboardScreen
from evcsm_tui.state import Inbound, LinkChange, LinkStatus
from evcsm_tui.widgets.charger_table import COLUMNS, ChargerTable
from textual.pilot import Pilot

from tests.tui.data import NOW, charger, reading, session
from tests.tui.fake import FixedLink
from tests.tui.harness import detail_title, label, row, wait_until

COUNT = 300


def fleet(count: int) -> list[ChargerState]:
    """`count` chargers, the even ones charging, the odd ones idle after a session."""
    states = []
    for number in range(count):
        charging = number % 2 == 0
        last = session(
            f"CP{number:04d}",
            number + 1,
            started=timedelta(minutes=30),
            energy_kwh=1.0 + number / 1000,
            power_kw=11.0,
            ended=None if charging else timedelta(minutes=5),
        )
        states.append(charger(f"CP{number:04d}", 22.0, last))
    return states


FLEET = fleet(COUNT)
TICK = FleetUpdate(
    timestamp=NOW,
    readings=[
        reading(state.session, energy_kwh=2.0 + number / 1000, power_kw=20.0)
        for number, state in enumerate(FLEET)
        if state.session is not None and state.session.active
    ],
)


def app_with(*events: Inbound) -> EvcsmApp:
    link = FixedLink((LinkChange(LinkStatus.CONNECTED), Availability.ONLINE, *events))
    return EvcsmApp(link, now=lambda: NOW, tz=UTC, refresh_interval=0.05)


def table(app: EvcsmApp) -> ChargerTable:
    return app.screen.query_one(ChargerTable)


async def shown(pilot: Pilot[Any], app: EvcsmApp) -> None:
    await wait_until(pilot, "every charger listed", lambda: len(table(app).keys) == COUNT)
    await wait_until(pilot, "CP0000's reading", lambda: row(app, "CP0000")["energy"] == "2.000")


async def test_every_row_reads_its_own_charger() -> None:
    app = app_with(*FLEET, TICK)
    async with app.run_test(size=(120, 40)) as pilot:
        await shown(pilot, app)
        for number in (0, 1, 2, 151, 298, 299):
            cells = row(app, f"CP{number:04d}")
            if number % 2 == 0:
                assert cells["status"] == "Charging"
                assert cells["energy"] == f"{2.0 + number / 1000:.3f}"
                assert cells["power"].endswith("20.0")
            else:
                assert cells["status"] == "Idle"
                assert cells["energy"] == f"{1.0 + number / 1000:.3f}"
                assert cells["power"].endswith("0.00")
        await pilot.press("end")
        await wait_until(pilot, "the last charger selected", lambda: "CP0299" in detail_title(app))


async def test_filters_narrow_the_table_and_keep_the_selection() -> None:
    app = app_with(*FLEET, TICK)
    async with app.run_test(size=(120, 40)) as pilot:
        await shown(pilot, app)
        for _ in range(150):
            await pilot.press("j")
        await wait_until(pilot, "CP0150 selected", lambda: "CP0150" in detail_title(app))

        await pilot.press("f")  # Charging only
        await wait_until(pilot, "charging only", lambda: len(table(app).keys) == COUNT // 2)
        assert all(int(key[2:]) % 2 == 0 for key in table(app).keys)
        assert table(app).selected == "CP0150"
        assert label(app, "#filter-line").startswith("150 of 300 chargers · status Charging")

        await pilot.press("slash", "0", "1", "5")
        await wait_until(pilot, "ids with 015", lambda: len(table(app).keys) < 20)
        assert list(table(app).keys) == [k for k in FLEET_IDS if "015" in k and int(k[2:]) % 2 == 0]
        assert table(app).selected == "CP0150"
        await pilot.press("enter")

        await pilot.press("f")  # Idle only: CP0150 is hidden, the cursor stays in place
        await wait_until(pilot, "idle 015", lambda: all(int(k[2:]) % 2 for k in table(app).keys))
        assert table(app).selected != "CP0150"

        await pilot.press("escape")
        await wait_until(pilot, "every charger again", lambda: len(table(app).keys) == COUNT)
        assert isinstance(app.screen, DashboardScreen)
        assert not app.screen.charger_filter.active
        assert not app.screen.query_one("#filter-line").display


FLEET_IDS = [state.charger_id for state in FLEET]


async def test_a_reading_repaints_only_the_cells_it_changes() -> None:
    app = app_with(*FLEET, TICK)
    async with app.run_test(size=(120, 40)) as pilot:
        await shown(pilot, app)
        await pilot.pause(0.2)
        before = table(app).cells_written
        on_screen = len(table(app)._visible_keys())
        assert on_screen > 5
        one = FleetUpdate(
            timestamp=NOW + timedelta(seconds=1),
            readings=[reading(FLEET[2].session, energy_kwh=2.5, power_kw=20.0)],  # type: ignore[arg-type]
        )
        app.receive(one)
        await wait_until(pilot, "CP0002 moved", lambda: row(app, "CP0002")["energy"] == "2.500")
        await pilot.pause(0.2)
        # Only CP0002's energy changed: one cell, where rewriting the rows on screen would be
        # on_screen x 6.
        assert table(app).cells_written - before == 1
        assert on_screen * len(COLUMNS) > 1
