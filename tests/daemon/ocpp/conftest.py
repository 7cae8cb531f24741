"""A central system on a free loopback port with a recording sink."""

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from evcsm_daemon.chargers.ocpp import CentralSystem, ChargePointList, OcppConfig

from tests.daemon.ocpp.sink import RecordingSink

Start = Callable[..., contextlib.AbstractAsyncContextManager[tuple[CentralSystem, str]]]


@pytest.fixture
def sink() -> RecordingSink:
    """What the central system tells the service."""
    return RecordingSink()


@pytest.fixture
def start_central(sink: RecordingSink) -> Start:
    """Start a central system: `async with start_central(charge_points="CP1") as (cs, url)`."""

    @contextlib.asynccontextmanager
    async def start(
        charge_points: str = "CP1,CP2,PW:s3cret", **overrides: Any
    ) -> AsyncIterator[tuple[CentralSystem, str]]:
        config = OcppConfig(port=0, charge_points=ChargePointList.parse(charge_points), **overrides)
        async with CentralSystem(config, sink) as central:
            scheme = "wss" if config.ssl_context else "ws"
            yield central, f"{scheme}://127.0.0.1:{central.port}/ocpp"

    return start
