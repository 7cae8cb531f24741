"""Helpers for tests that drive the daemon's OCPP listener."""

import asyncio
from collections.abc import Callable

from evcsm_daemon.runtime import Daemon

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
