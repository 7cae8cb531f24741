"""The session store boundary: what the service needs from any backend, and what it promises.

Every backend (`store.mongo`, `store.sqlite`, `store.memory`) implements `SessionStore` and
passes the same conformance suite (tests/daemon/store/). The guarantees the daemon relies on
are the store's, enforced by the database where there is one:

- at most one `Charging` session per charger, whatever races (a unique index limited to
  `status: "Charging"` documents, or the backend's equivalent);
- a reading never lowers the register or the energy (`$max` semantics);
- stops and readings only touch sessions still `Charging`, so a late write never undoes a stop;
- OCPP transaction ids are handed out by the store (`next_transaction_id`, an atomic counter
  kept in the database) and are unique among sessions (a unique index on `transactionId`);
- `updatedAt` never goes back: a reading older than the stored one leaves it as it is;
- every write is idempotent, keyed by the session's UUID (`sessionId`, made by the daemon): a
  write repeated with the same arguments changes nothing more and answers as the first would
  have. So a write whose outcome is unknown (`WriteNotConfirmed`) is settled by repeating it.

Errors: a method raises `StoreUnavailable` when the call certainly changed nothing (the database
could not be reached or refused it), and `WriteNotConfirmed` when a write may have been applied
but was not acknowledged. Reads raise only `StoreUnavailable`. No backend lets a driver's own
exception out: each maps them in one place.
"""

from collections.abc import Sequence
from typing import Protocol

from evcsm_schema import ChargingSession, SessionPage, SessionQuery


class SessionStore(Protocol):
    """Charging sessions, stored; see the module docstring for the guarantees and errors."""

    kind: str
    """What it is, for log lines: "MongoDB", "SQLite" or "memory"."""
    durable: bool
    """True when sessions survive the daemon's process (MongoDB, SQLite); False for `memory`."""

    async def ensure_indexes(self) -> None:
        """Connect, create the schema and indexes if missing (idempotent); StoreUnavailable if not."""

    async def close(self) -> None:
        """Release the connection or file; the store is not used afterwards. Never raises."""

    async def ping(self) -> bool:
        """True when the database answers now; never raises."""

    async def insert_active(self, session: ChargingSession) -> tuple[ChargingSession, bool]:
        """Store a new `Charging` session, unless its charger has one already.

        A session whose `transactionId` another session holds is refused (StoreUnavailable).

        Returns `(stored, True)` when `session` is stored (also when an earlier attempt of this
        same session was), with its `id` set; `(other, False)` when another session is active
        on the charger: `session` is then not stored.
        """

    async def active(self, charger_id: str) -> ChargingSession | None:
        """The charger's `Charging` session, or None."""

    async def all_active(self) -> list[ChargingSession]:
        """Every `Charging` session, of any charger."""

    async def latest(self, charger_id: str) -> ChargingSession | None:
        """The charger's session with the latest `startTime`, active or not, or None."""

    async def get(self, session_id: str) -> ChargingSession:
        """One session by `sessionId`; raises SessionNotFound when there is none."""

    async def query(self, query: SessionQuery) -> SessionPage:
        """Sessions matching every filter given (`since` inclusive, `until` exclusive, on
        `startTime`), newest first (ties by `id`, newest first), `limit` of them after
        `offset`, with `total` the number matching in all."""

    async def by_transaction(self, transaction_id: int) -> ChargingSession | None:
        """The session with this OCPP `transactionId`, active or not, or None."""

    async def ocpp_chargers(self) -> list[str]:
        """The charger ids of every OCPP connector with a stored session (any status),
        sorted."""

    async def next_transaction_id(self) -> int:
        """A new OCPP transaction id, 1 ... 2**31 - 1, that this database never gave before.

        An atomic increment of one counter (a document, a row) shared by every daemon on the
        database. An id whose answer was lost (`WriteNotConfirmed`) is skipped, never given twice;
        StoreUnavailable also when the ids are exhausted.
        """

    async def save_readings(self, sessions: Sequence[ChargingSession]) -> None:
        """For each session still `Charging`: `meterWh`, `energyConsumed` and `updatedAt` raised
        to the reading's if higher (never lowered), `powerKw` set. Others untouched.
        Nothing when empty. A backend may write a large batch in parts, one after another, so
        that other calls need not wait for all of it: a call that fails raises, and the parts
        written before it stay written (writing them again changes nothing more)."""

    async def finish(self, stopped: ChargingSession) -> ChargingSession | None:
        """Store a stop: if the session is still `Charging`, set its status, `endTime`,
        `stopReason` and `updatedAt`, `powerKw` 0, and raise its register and energy as a
        reading does; returns the stored session. None when it is not `Charging` (stopped
        already, by this call's earlier attempt or elsewhere) or not stored at all."""
