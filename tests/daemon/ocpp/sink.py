"""A recording event sink: what the service will be, as far as the adapter can tell.

It allocates transaction ids idempotently (the same StartTransaction gets the same id), knows
the transactions it started, and can be told to fail on one kind of event.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from evcsm_daemon.core.events import (
    AuthorizeRequested,
    ChargerEvent,
    IdTagStatus,
    IdTagVerdict,
    Outcome,
    StartOutcome,
    StopOutcome,
    TransactionStarted,
    TransactionStopped,
)

E = TypeVar("E")
WAIT_S = 20.0


class SinkFailure(Exception):
    """Raised on purpose by a sink told to fail."""


@dataclass
class RecordingSink:
    """Keeps every event; answers like a service with an allow-list."""

    blocked_tags: frozenset[str] = frozenset()
    fail_on: type | None = None
    """Raise `SinkFailure` on events of this type."""
    record: bool = True
    """Keep the events (a benchmark sink only counts them)."""
    events: list[ChargerEvent] = field(default_factory=list)
    count: int = 0
    transactions: dict[str, int] = field(default_factory=dict)
    stopped: set[int] = field(default_factory=set)
    hook: Callable[[ChargerEvent], None] | None = None
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle(self, event: ChargerEvent) -> Outcome:
        """Record, then answer what the event asks for."""
        self.count += 1
        if self.record:
            self.events.append(event)
        if self.hook is not None:
            self.hook(event)
        async with self.changed:
            self.changed.notify_all()
        if self.fail_on is not None and isinstance(event, self.fail_on):
            raise SinkFailure(f"told to fail on {type(event).__name__}")
        return self._answer(event)

    def _answer(self, event: ChargerEvent) -> Outcome:
        if isinstance(event, AuthorizeRequested):
            return IdTagVerdict(self._status(event.id_tag))
        if isinstance(event, TransactionStarted):
            key = event.idempotency_key
            if key not in self.transactions:
                self.transactions[key] = len(self.transactions) + 1
            return StartOutcome(self.transactions[key], self._status(event.id_tag))
        if isinstance(event, TransactionStopped):
            known = event.transaction_id in self.transactions.values()
            if known:
                self.stopped.add(event.transaction_id)
            return StopOutcome(known=known)
        return None

    def _status(self, id_tag: str) -> IdTagStatus:
        return IdTagStatus.BLOCKED if id_tag in self.blocked_tags else IdTagStatus.ACCEPTED

    def of(self, kind: type[E]) -> list[E]:
        """The recorded events of one type, in order."""
        return [event for event in self.events if isinstance(event, kind)]

    async def wait_for(self, kind: type[E], predicate: Callable[[E], bool] = lambda _: True) -> E:
        """The first recorded event of `kind` that satisfies `predicate`, waiting for it."""
        async with asyncio.timeout(WAIT_S), self.changed:
            while True:
                for event in self.of(kind):
                    if predicate(event):
                        return event
                await self.changed.wait()
