"""Start and stop requests waiting for the charger's event: accepted, but not yet in effect.

A charger answers a request at once (Accepted or Rejected) and acts later: the session exists
when its "transaction started" event arrives, and ends with "transaction stopped". A `Pending`
stands for that wait. The service resolves it from the event, fails it when the charger rejects
or cannot be reached, and expires it when its deadline on the service's clock passes
(`expire()`, from the meter tick), so a test moves a fake clock instead of sleeping.

Any number of callers may wait on one `Pending` (two clients asking to start one charger share
the request); `result` answers without waiting once it is done.
"""

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from evcsm_schema import ChargingSession

from evcsm_daemon.errors import EvcsmError, StartTimeout, StopTimeout

log = logging.getLogger(__name__)

RECENT_LIMIT = 10_000
"""Requests kept to be looked up by id (`Requests.find`), the oldest forgotten first."""


class Kind(StrEnum):
    """What is asked."""

    START = "start"
    STOP = "stop"


@dataclass(eq=False)
class Pending:
    """One accepted request, until the charger's event settles it."""

    kind: Kind
    charger_id: str
    deadline: datetime
    reason: str | None = None
    """The stop reason to record (stops only)."""
    created: bool = False
    """Set with the result: True when this request's session is new (not one found active)."""
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    """Names the request for clients that look it up later (REST `Location`)."""
    _future: asyncio.Future[ChargingSession] = field(init=False)

    def __post_init__(self) -> None:
        self._future = asyncio.get_running_loop().create_future()
        self._future.add_done_callback(_retrieve)

    @property
    def done(self) -> bool:
        """True once resolved, failed or expired."""
        return self._future.done()

    @property
    def result(self) -> ChargingSession | None:
        """The session once resolved (raises the failure once failed); None while pending."""
        return self._future.result() if self._future.done() else None

    @property
    def error(self) -> BaseException | None:
        """Why the request failed, once it did; None while pending or once resolved."""
        if not self._future.done() or self._future.cancelled():
            return None
        return self._future.exception()

    def on_done(self, callback: Callable[["Pending"], None]) -> None:
        """Call `callback(self)` once the request is settled (at once if it is already)."""
        self._future.add_done_callback(lambda _: callback(self))

    async def wait(self) -> ChargingSession:
        """The started or stopped session; raises why not (rejected, timeout, offline, ...)."""
        return await asyncio.shield(self._future)

    def resolve(self, session: ChargingSession, *, created: bool) -> None:
        """The charger acted: `session` started (or was found active), or stopped."""
        if not self._future.done():
            self.created = created
            self._future.set_result(session)

    def fail(self, error: BaseException) -> None:
        """The request will not be carried out."""
        if not self._future.done():
            self._future.set_exception(error)


def _retrieve(future: asyncio.Future[ChargingSession]) -> None:
    """Mark a failure as seen: a request nobody waits for is not an error to report."""
    if not future.cancelled():
        future.exception()


class Requests:
    """The pending requests of every charger: at most one start and one stop each."""

    def __init__(self) -> None:
        self._pending: dict[tuple[Kind, str], Pending] = {}
        self._recent: OrderedDict[str, Pending] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pending)

    def get(self, kind: Kind, charger_id: str) -> Pending | None:
        """The charger's pending request of `kind`, if one is waiting."""
        return self._pending.get((kind, charger_id))

    def add(self, pending: Pending) -> None:
        """Wait for the charger's event."""
        self._pending[(pending.kind, pending.charger_id)] = pending
        self._recent[pending.request_id] = pending
        while len(self._recent) > RECENT_LIMIT:
            self._recent.popitem(last=False)

    def find(self, request_id: str) -> Pending | None:
        """A request by id: pending, or one of the last `RECENT_LIMIT` made."""
        return self._recent.get(request_id)

    def resolve(
        self, kind: Kind, charger_id: str, session: ChargingSession, *, created: bool
    ) -> None:
        """The charger acted on its request of `kind`, if it had one."""
        pending = self._pending.pop((kind, charger_id), None)
        if pending is not None:
            pending.resolve(session, created=created)

    def fail(self, pending: Pending, error: BaseException) -> None:
        """`pending` will not be carried out."""
        if self._pending.get((pending.kind, pending.charger_id)) is pending:
            del self._pending[(pending.kind, pending.charger_id)]
        pending.fail(error)

    def expire(self, now: datetime, timeout_s: float) -> int:
        """Fail every request whose deadline has passed; returns how many."""
        late = [p for p in self._pending.values() if p.deadline <= now]
        for pending in late:
            if pending.kind is Kind.START:
                error: EvcsmError = StartTimeout(
                    f"charger {pending.charger_id!r} accepted the start but began no "
                    f"transaction within {timeout_s:g} s"
                )
            else:
                error = StopTimeout(
                    f"charger {pending.charger_id!r} accepted the stop but did not end its "
                    f"transaction within {timeout_s:g} s"
                )
            log.warning("%s", error.message)
            self.fail(pending, error)
        return len(late)
