"""A store that fails chosen calls of the store it wraps, as a flaky database would.

`FaultyStore(inner)` is a `SessionStore`; `fail("insert_active", LOST_ACK)` makes the next
`insert_active` run on `inner` and then raise WriteNotConfirmed, as when a write reaches the
database and its acknowledgement is lost. It works on every backend, so the service's handling of
unknown outcomes is tested on each.
"""

import enum
from collections.abc import Sequence
from typing import Any

from evcsm_daemon.errors import StoreUnavailable, WriteNotConfirmed
from evcsm_daemon.store import SessionStore
from evcsm_schema import ChargingSession, SessionPage, SessionQuery


class Fault(enum.Enum):
    """How a call fails."""

    LOST_ACK = "applied, then WriteNotConfirmed"
    LOST_WRITE = "not applied, WriteNotConfirmed"
    DOWN = "not applied, StoreUnavailable"


class FaultyStore:
    """A `SessionStore` around another, failing the calls it is told to."""

    def __init__(self, inner: SessionStore) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.durable = inner.durable
        self.plan: dict[str, list[Fault]] = {}
        self.calls: list[str] = []

    def fail(self, method: str, fault: Fault, *, times: int = 1) -> None:
        """Make the next `times` calls of `method` fail as `fault` says."""
        self.plan.setdefault(method, []).extend([fault] * times)

    def heal(self) -> None:
        """Fail nothing more."""
        self.plan.clear()

    async def _call(self, method: str, *args: Any) -> Any:
        self.calls.append(method)
        planned = self.plan.get(method)
        fault = planned.pop(0) if planned else None
        if fault is Fault.DOWN:
            raise StoreUnavailable("database unavailable: injected fault")
        if fault is Fault.LOST_WRITE:
            raise WriteNotConfirmed("database did not confirm the write: injected, not applied")
        result = await getattr(self.inner, method)(*args)
        if fault is Fault.LOST_ACK:
            raise WriteNotConfirmed("database did not confirm the write: injected, applied")
        return result

    async def ensure_indexes(self) -> None:
        await self._call("ensure_indexes")

    async def close(self) -> None:
        await self.inner.close()

    async def ping(self) -> bool:
        return await self.inner.ping()

    async def insert_active(self, session: ChargingSession) -> tuple[ChargingSession, bool]:
        result: tuple[ChargingSession, bool] = await self._call("insert_active", session)
        return result

    async def active(self, charger_id: str) -> ChargingSession | None:
        result: ChargingSession | None = await self._call("active", charger_id)
        return result

    async def all_active(self) -> list[ChargingSession]:
        result: list[ChargingSession] = await self._call("all_active")
        return result

    async def latest(self, charger_id: str) -> ChargingSession | None:
        result: ChargingSession | None = await self._call("latest", charger_id)
        return result

    async def get(self, session_id: str) -> ChargingSession:
        result: ChargingSession = await self._call("get", session_id)
        return result

    async def query(self, query: SessionQuery) -> SessionPage:
        result: SessionPage = await self._call("query", query)
        return result

    async def save_readings(self, sessions: Sequence[ChargingSession]) -> None:
        await self._call("save_readings", sessions)

    async def finish(self, stopped: ChargingSession) -> ChargingSession | None:
        result: ChargingSession | None = await self._call("finish", stopped)
        return result

    async def ocpp_chargers(self) -> list[str]:
        found: list[str] = await self._call("ocpp_chargers")
        return found

    async def by_transaction(self, transaction_id: int) -> ChargingSession | None:
        result: ChargingSession | None = await self._call("by_transaction", transaction_id)
        return result

    async def next_transaction_id(self) -> int:
        result: int = await self._call("next_transaction_id")
        return result
