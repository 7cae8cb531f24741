"""The dashboard and the history at 80x24 and 120x40, with fixed data and a fixed clock."""

from datetime import UTC
from pathlib import Path

import pytest
from evcsm_tui.app import EvcsmApp

from tests.tui.data import NOW
from tests.tui.fake import FixedLink
from tests.tui.harness import row, table_rows, wait_until
from tests.tui.snapshot import check

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


def fixed_app(tmp_path: Path) -> EvcsmApp:
    return EvcsmApp(FixedLink(), export_dir=tmp_path, now=lambda: NOW, tz=UTC)


@pytest.mark.parametrize("size", SIZES)
async def test_dashboard(size: tuple[int, int], tmp_path: Path) -> None:
    app = fixed_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, "fleet shown", lambda: row(app, "DEPOT-04").get("status") == "Idle")
        await wait_until(pilot, "CP1 readings", lambda: row(app, "CP1").get("energy") == "15.16")
        await pilot.pause()
        check(app, f"dashboard-{size[0]}x{size[1]}", tmp_path)


@pytest.mark.parametrize("size", SIZES)
async def test_history(size: tuple[int, int], tmp_path: Path) -> None:
    app = fixed_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, "fleet shown", lambda: bool(row(app, "DEPOT-04")))
        await pilot.press("h")
        await wait_until(pilot, "sessions listed", lambda: len(table_rows(app, "#sessions")) == 7)
        await pilot.pause()
        check(app, f"history-{size[0]}x{size[1]}", tmp_path)
