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


async def test_a_mongodb_flush_is_timed_batch_by_batch() -> None:
    whole, sliced = await run_mongo(parse(ARGS), ACTIVE)
    assert (whole.holds.count, sliced.holds.count) == (2, 2 * 3)
    assert sliced.server_per_batch_s is not None
