"""Fuzzing the REST API from its own OpenAPI description, against the real `evcsm-daemon`.

Schemathesis generates valid and invalid requests for every operation and fails on a 5xx, a
status or body the description does not allow, an invalid request that is accepted, or a 405
without its Allow header. The daemon runs as a process (in-process store, a real broker), so a
crash fails the run too: the fixture checks on the way out that it is still running and never
logged a traceback or an error.

`./dev test` runs a short, repeatable pass (25 examples per operation); EVCSM_FUZZ_EXAMPLES asks
for more, drawn afresh on each run (docs/testing.md).
"""

import os
import signal
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis import Case
from schemathesis.openapi import from_url

from tests.support.broker import Mosquitto
from tests.support.process import DaemonProcess, daemon_process

EXAMPLES = int(os.environ.get("EVCSM_FUZZ_EXAMPLES", "25"))
REPEATABLE = "EVCSM_FUZZ_EXAMPLES" not in os.environ
"""The short pass in `./dev test` sends the same requests every time; a long one draws new ones."""
TOKEN = "fuzz-token-0123456789"


@pytest.fixture(scope="module")
def fuzzed_daemon() -> Iterator[DaemonProcess]:
    """One daemon for the whole run; it must come out of it running and without errors."""
    with (
        Mosquitto() as broker,
        daemon_process(
            EVCSM_MQTT_URL=broker.url, EVCSM_CHARGERS="CP1:22,CP2:11,CP3:7.4", EVCSM_API_TOKEN=TOKEN
        ) as daemon,
    ):
        daemon.wait_until("/readyz", 200)
        yield daemon
        output = daemon.output()
        assert daemon.process.poll() is None, f"the daemon died under fuzzing:\n{output}"
        daemon.stop(signal.SIGTERM)
        assert daemon.process.returncode == 0, output
        assert "Traceback" not in output
        assert " ERROR " not in daemon.output()


@pytest.fixture(scope="module")
def api_schema(fuzzed_daemon: DaemonProcess) -> schemathesis.BaseSchema:
    """The daemon's OpenAPI description, as it serves it."""
    return from_url(f"{fuzzed_daemon.url}/swagger/v1/swagger.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=REPEATABLE,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_api_holds_to_its_description(case: Case[Any]) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
