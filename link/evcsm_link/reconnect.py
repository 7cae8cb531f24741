"""Staying connected: the one reconnect loop of every EVCSM program that keeps a broker connection.

`stay_connected` opens a client, hands the connection to `serve` until it ends (the broker
closed it, or an `MqttError`), tells `lost` why and how long it waits, waits as the `Backoff`
policy says (`evcsm_link.backoff`), and connects again, until it is cancelled. A connection
that came up starts the policy's count again.

The daemon's bridge and the dashboard's link both run on it, so a move to aiomqtt's own
reconnection changes this module (and `client`) alone.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import NoReturn

from evcsm_link.backoff import Backoff, Retries
from evcsm_link.client import MqttClient, MqttError

Lost = Callable[[MqttError | None, float], None]
"""Told of a connection lost or never made: the error (None when the broker closed it, or
`serve` returned) and the seconds until the next attempt."""


async def stay_connected(
    open_client: Callable[[], MqttClient],
    serve: Callable[[MqttClient], Awaitable[None]],
    *,
    policy: Backoff,
    lost: Lost,
) -> NoReturn:
    """Connect with `open_client()` and `serve` each connection, reconnecting, until cancelled.

    `open_client` is called for every attempt. An `MqttError` from connecting or from `serve`
    (also inside an exception group, as a `TaskGroup` in `serve` raises it) is a lost
    connection; any other exception ends the loop.
    """
    retries = Retries(policy)
    while True:
        error: MqttError | None = None
        try:
            async with open_client() as client:
                retries.succeeded()
                await serve(client)
        except* MqttError as group:
            error = _first(group)
        if _cancelling():
            # A TaskGroup that fails while its task is being cancelled raises the failure (an
            # exception group) instead of CancelledError: honour the cancel here.
            raise asyncio.CancelledError
        delay = retries.failed()
        lost(error, delay)
        await asyncio.sleep(delay)


def _first(group: BaseExceptionGroup[MqttError]) -> MqttError:
    """The first error of a group, however deeply nested."""
    first: BaseException = group
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    assert isinstance(first, MqttError)  # noqa: S101 - `except* MqttError` holds only these
    return first


def _cancelling() -> bool:
    """True when the running task has been asked to cancel."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
