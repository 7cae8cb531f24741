"""bench/faults.py runs end to end: the smallest counts of two scenarios, as its command line.

The full run is too slow for the test suite (docs/reliability.md); this keeps the script from
rotting as the daemon changes, and checks that it reports what it tried.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.broker

REPO = Path(__file__).resolve().parents[2]


def test_the_smallest_run_of_two_scenarios_holds_and_reports_every_row() -> None:
    command = [
        *(sys.executable, "-m", "bench.faults", "--only", "races,daemon-kill"),
        *("--races", "10", "--race-rounds", "1", "--daemon-kills", "1", "--json", "-"),
    ]
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    rows = {row["scenario"]: row for row in report["rows"]}
    assert sorted(rows) == [
        "10 concurrent starts of one charger, REST + MQTT at once, x1",
        "10 concurrent stops of one charger, REST + MQTT at once, x1",
        "daemon kill -9 mid-session on SQLite, x1",
    ]
    for row in rows.values():
        assert row["held"], row
        assert (row["failures"], row["crashes"], row["lost"]) == (0, 0, 0)
    starts = rows["10 concurrent starts of one charger, REST + MQTT at once, x1"]
    assert starts["inputs"] == 10
    (burst,) = starts["details"]["rounds"]
    assert burst["sessions"] == 1
    assert sum(burst["answers"].values()) == 10
    kill = rows["daemon kill -9 mid-session on SQLite, x1"]
    assert kill["details"]["answered_stops"] > 0
    assert len(kill["details"]["restart_to_ready_s"]) == 2
    assert report["arguments"]["only"] == "races,daemon-kill"
