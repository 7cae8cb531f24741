"""The log goes to a file: the first that opens, or none, never the screen."""

import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from evcsm_tui.config import default_log_files
from evcsm_tui.logs import setup_logging


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_an_unwritable_default_falls_back_to_the_next(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("", encoding="utf-8")
    chosen = setup_logging([blocked / "evcsm" / "tui.log", tmp_path / "tui.log"], required=False)
    assert chosen == tmp_path / "tui.log"
    logging.getLogger("evcsm_tui.test").warning("written")
    assert "evcsm_tui.test: written" in chosen.read_text(encoding="utf-8")


def test_no_writable_file_means_no_log_unless_one_was_asked_for(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("", encoding="utf-8")
    assert setup_logging([blocked / "tui.log"], required=False) is None
    assert [type(h) for h in logging.getLogger().handlers] == [logging.NullHandler]
    with pytest.raises(FileExistsError):
        setup_logging([blocked / "tui.log"], required=True)


def test_the_test_suite_never_logs_into_the_home() -> None:
    preferred, _ = default_log_files(os.environ)
    assert preferred.is_relative_to(tempfile.gettempdir())
