"""Helpers for tests that drive the daemon's OCPP listener."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from evcsm_daemon.runtime import Daemon
from evcsm_daemon.service import ChargingService
from evcsm_schema import topics

from tests.support.broker import Mosquitto
from tests.support.daemon import daemon_settings, running_daemon
from tests.support.mqtt import Probe, probe

WAIT_S = 20.0


def ocpp_url(daemon: Daemon) -> str:
    """The daemon's OCPP base URL (a charge point appends its identity)."""
    return f"ws://127.0.0.1:{daemon.ocpp_port}/ocpp"


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait until `condition` holds, failing with `what` after WAIT_S."""
    try:
        async with asyncio.timeout(WAIT_S):
            while not condition():  # noqa: ASYNC110 - polling state owned by the loop under test
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"not reached: {what}") from None


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Ask `check` again and again until it says True, failing with `what` after WAIT_S."""
    try:
        async with asyncio.timeout(WAIT_S):
            while not await check():  # noqa: ASYNC110 - polling a remote API, no event to wait on
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"not reached: {what}") from None


@dataclass
class Site:
    """A running daemon with its OCPP listener, a REST client and an MQTT probe on its broker."""

    daemon: Daemon
    http: httpx.AsyncClient
    mqtt: Probe

    @property
    def url(self) -> str:
        """Where charge points connect."""
        return ocpp_url(self.daemon)

    @property
    def service(self) -> ChargingService:
        """The daemon's service."""
        assert self.daemon.service is not None
        return self.daemon.service


@asynccontextmanager
async def ocpp_site(broker: Mosquitto, **overrides: object) -> AsyncIterator[Site]:
    """A daemon serving `LAB-1` (and whatever `overrides` say) on a free OCPP port."""
    values: dict[str, object] = {
        "ocpp_addr": "127.0.0.1:0",
        "ocpp_charge_points": "LAB-1",
        **overrides,
    }
    async with (
        running_daemon(daemon_settings(broker.url, **values)) as daemon,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.http_port}", timeout=30) as http,
        probe(
            broker.port, topics.SEED_CHARGING, topics.SEED_SESSION, topics.CHARGER_STATE_ALL
        ) as mqtt,
    ):
        yield Site(daemon, http, mqtt)
