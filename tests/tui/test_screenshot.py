"""The palette's Screenshot saves an SVG into the export folder and says where; a failure says why,
on screen and in the log."""

import logging
from datetime import UTC
from pathlib import Path

import pytest
from evcsm_tui.app import EvcsmApp
from textual.command import CommandPalette

from tests.tui.data import NOW
from tests.tui.fake import FixedLink
from tests.tui.harness import Notes, palette_first, row, wait_until


async def take_screenshot(export_dir: Path, notes: Notes) -> None:
    app = EvcsmApp(FixedLink(), export_dir=export_dir, now=lambda: NOW, tz=UTC)
    async with app.run_test(size=(80, 24), message_hook=notes.hook) as pilot:
        await wait_until(pilot, "fleet shown", lambda: bool(row(app, "DEPOT-04")))
        await pilot.press("ctrl+p")
        await wait_until(pilot, "the palette", lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"screenshot")
        await wait_until(pilot, "offered", lambda: palette_first(app).startswith("Screenshot"))
        await pilot.press("enter")
        await wait_until(
            pilot, "an answer", lambda: any("Screenshot" in n.title for n in notes.seen)
        )


async def test_the_screenshot_goes_to_the_export_folder(tmp_path: Path) -> None:
    notes = Notes()
    await take_screenshot(tmp_path, notes)
    saved = tmp_path / "evcsm-screen-20260302-143000.svg"
    note = notes.find("information", "Screenshot")
    assert note is not None
    assert note.message == f"Saved to {saved}"
    svg = saved.read_text(encoding="utf-8")
    assert svg.startswith("<svg")
    assert "DEPOT-04" in svg.replace("&#160;", " ")


async def test_a_screenshot_that_cannot_be_saved_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="evcsm_tui")
    notes = Notes()
    missing = tmp_path / "gone"
    await take_screenshot(missing, notes)
    note = notes.find("error", "Screenshot not saved")
    assert note is not None
    assert "No such file or directory" in note.message
    assert str(missing) in note.message
    [record] = [r for r in caplog.records if "screenshot" in r.getMessage()]
    assert "No such file or directory" in record.getMessage()
