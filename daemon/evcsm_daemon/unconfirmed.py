"""Writes whose outcome the store could not tell, and how the service settles them.

A write can reach the database and still fail on the way back (a timeout after the server
applied it): the store raises `WriteNotConfirmed`. Every store write is idempotent, keyed by
the session's UUID, so `confirmed()` simply asks again: the repeat answers as the first write
would have (an insert that landed is read back; a stop that landed reads back as stopped).

When even the repeat fails, the service has to act without knowing. It turns the charger off
(a start is not in effect, a stop is) and tells the client so, and keeps an `Unsettled` record:
what the store must end up holding, the session Stopped. `settle()` brings the store there with
the same idempotent writes, however often it runs: the start is stored if it never landed (so
that a late copy of it can never land afterwards: its sessionId is taken), then stopped. The
service settles a charger's records before its next command, and all of them after every
flush, so no `Charging` session that nobody meters stays behind.
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from evcsm_schema import ChargingSession

from evcsm_daemon.errors import StoreError, WriteNotConfirmed
from evcsm_daemon.store import SessionStore

log = logging.getLogger(__name__)

T = TypeVar("T")


async def confirmed(write: Callable[[], Awaitable[T]]) -> T:
    """Run an idempotent store write; if its outcome is unknown, run it again to learn it.

    Raises StoreUnavailable only when the first attempt certainly changed nothing, and
    WriteNotConfirmed when the outcome is still unknown after the repeat.
    """
    try:
        return await write()
    except WriteNotConfirmed as first:
        log.warning("%s; asking the database again", first.message)
        try:
            return await write()
        except StoreError as again:
            raise WriteNotConfirmed(f"{first.message}; then {again.message}") from again


@dataclass(frozen=True, slots=True)
class Unsettled:
    """A session the store must end up holding as `stopped`; `started` as it was stored."""

    started: ChargingSession
    stopped: ChargingSession

    @property
    def charger_id(self) -> str:
        """The session's charger."""
        return self.started.charger_id


async def settle(store: SessionStore, item: Unsettled) -> ChargingSession | None:
    """Bring the store to hold `item.stopped`; returns what it holds (None: never stored).

    Raises StoreError when the store cannot be brought there now; it is safe to call again.
    """
    stored, mine = await store.insert_active(item.started)
    if not mine:  # another session is active on the charger: ours was never stored
        return None
    return await store.finish(item.stopped) or await store.get(stored.session_id)


class Unconfirmed:
    """The unsettled sessions, by `sessionId`."""

    def __init__(self) -> None:
        self._items: dict[str, Unsettled] = {}

    def __len__(self) -> int:
        return len(self._items)

    def add(self, started: ChargingSession, stopped: ChargingSession) -> None:
        """Keep a session to settle."""
        self._items[started.session_id] = Unsettled(started, stopped)

    def discard(self, session_id: str) -> None:
        """Forget a settled session."""
        self._items.pop(session_id, None)

    def items(self, charger_id: str | None = None) -> list[Unsettled]:
        """The sessions to settle, of one charger or of all."""
        return [i for i in self._items.values() if charger_id in (None, i.charger_id)]

    def stopped(self, session_id: str) -> ChargingSession | None:
        """The session as it will be stored, if it is unsettled."""
        item = self._items.get(session_id)
        return item.stopped if item is not None else None
