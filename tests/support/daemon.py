"""Running a real daemon in-process for integration tests."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from evcsm_daemon.config import Settings
from evcsm_daemon.runtime import Daemon

READY_TIMEOUT_S = 20.0


@asynccontextmanager
async def running_daemon(
    settings: Settings, *, graceful: bool = True, wait_connected: bool = True
) -> AsyncIterator[Daemon]:
    """A daemon started (and connected to its broker, unless told not to wait), stopped on exit."""
    daemon = Daemon(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop), name="test-daemon")
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            ready = asyncio.create_task(daemon.ready.wait())
            done, _ = await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                task.result()
            assert daemon.bridge is not None
            if wait_connected:
                await daemon.bridge.connected.wait()
        yield daemon
    finally:
        if graceful:
            stop.set()
            await asyncio.wait_for(task, 15)
        else:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def daemon_settings(mqtt_url: str, **overrides: object) -> Settings:
    """Settings for a test daemon: memory store, free HTTP port, fast simulated clock."""
    values: dict[str, object] = {
        "mqtt_url": mqtt_url,
        "mongodb_uri": "memory",
        "http_addr": "127.0.0.1:0",
        "chargers": "CP1:22,CP2:11",
        "sim_speed": 60.0,
        "tick_interval": 0.2,
    }
    values.update(overrides)
    return Settings.model_validate(values)
