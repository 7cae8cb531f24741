"""Fixtures for the dashboard's tests: a daemon in-process on the test broker."""

from collections.abc import AsyncIterator

import pytest
from evcsm_daemon.runtime import Daemon

from tests.support.broker import Mosquitto
from tests.support.daemon import daemon_settings, running_daemon


@pytest.fixture
async def daemon(broker: Mosquitto) -> AsyncIterator[Daemon]:
    """The real daemon on the memory store, CP1 (22 kW) and CP2 (11 kW), 60x simulated clock."""
    async with running_daemon(daemon_settings(broker.url)) as running:
        yield running
