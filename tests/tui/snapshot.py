"""SVG snapshots of the dashboard, compared with the committed ones in snapshots/.

pytest-textual-snapshot pins syrupy 4.8, which requires pytest < 9; this does the same job with
Textual's own `export_screenshot`. Regenerate after an intended change of the look with:

    EVCSM_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/tui/test_fixed_data.py
"""

import os
import re
from pathlib import Path
from typing import Any

from textual.app import App

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = "EVCSM_UPDATE_SNAPSHOTS"


def normalise(svg: str) -> str:
    """Drop the per-render id that Rich puts in CSS class names."""
    return re.sub(r"terminal-\d+-", "terminal-", svg)


def check(app: App[Any], name: str, tmp_path: Path) -> None:
    """Compare the app's screen with snapshots/`name`.svg (or write it when updating)."""
    actual = normalise(app.export_screenshot(title=name))
    expected_file = SNAPSHOTS / f"{name}.svg"
    if os.environ.get(UPDATE) == "1":
        SNAPSHOTS.mkdir(exist_ok=True)
        expected_file.write_text(actual, encoding="utf-8")
        return
    assert expected_file.exists(), f"no snapshot {expected_file.name}: run with {UPDATE}=1"
    if normalise(expected_file.read_text(encoding="utf-8")) != actual:
        got = tmp_path / f"{name}.svg"
        got.write_text(actual, encoding="utf-8")
        raise AssertionError(
            f"{name} differs from {expected_file}; this run's screen is {got} "
            f"(open both in a browser; if the change is intended, rerun with {UPDATE}=1)"
        )
