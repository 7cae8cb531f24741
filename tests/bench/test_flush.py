"""bench/flush.py runs on both stores at the smallest sizes: every reading stored (the script
checks a sample itself), and a flush cut into as many slices as its size says."""

from pathlib import Path

import pytest
from evcsm_daemon import heap

from bench.flush import parse, run_mongo, run_sqlite

ARGS = ["--stored", "200", "--slices", "0", "4", "--flushes", "2"]
ACTIVE = 10


@pytest.fixture(autouse=True)
def heap_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The script freezes its heap as the daemon does; not the test process's."""
    monkeypatch.setattr(heap, "settle", lambda: None)


async def test_a_sqlite_flush_is_timed_slice_by_slice(tmp_path: Path) -> None:
    whole, sliced = await run_sqlite(parse(ARGS), tmp_path, ACTIVE)
    assert (whole.size, whole.holds.count, whole.flushes.count) == (0, 2, 2)
    assert (sliced.size, sliced.holds.count, sliced.flushes.count) == (4, 2 * 3, 2)
    assert sliced.commands.count + sliced.commands_idle.count > 0
    assert "on its thread" in sliced.checkpoints


async def test_sqlite_checkpoints_inside_the_commits_are_counted(tmp_path: Path) -> None:
    """`--checkpoints inline`: SQLite's own, inside whichever commit passes 1,000 pages."""
    args = parse([*ARGS, "--slices", "4", "--flushes", "4", "--checkpoints", "inline"])
    (row,) = await run_sqlite(args, tmp_path, 3000)
    assert row.store == "SQLite, checkpoints inline"
    assert int(row.checkpoints.split()[0]) >= 1


async def test_a_mongodb_flush_is_timed_batch_by_batch() -> None:
    whole, sliced = await run_mongo(parse(ARGS), ACTIVE)
    assert (whole.holds.count, sliced.holds.count) == (2, 2 * 3)
    assert sliced.server_per_batch_s is not None
