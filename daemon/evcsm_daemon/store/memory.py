"""The in-process store (`memory`): plain Python data, for tests and throwaway demos.

There is one such database per process, so, like a server, it outlives a daemon that stops and
starts again in the same process; `reset_memory()` forgets it. Nothing survives the process.

It indexes what it is asked for, as a database would:

- `sessionId` → session, a dict: `get`, readings and stops are O(1);
- `chargerId` → its `Charging` session's id, a dict: `active` is O(1), and it is the unique
  index that allows one active session per charger;
- `transactionId` → its session's id, a dict: `by_transaction` is O(1), and it keeps transaction
  ids unique;
- every session's `(startTime, id)` in one sorted list, and per charger in another: `latest` is
  O(1), a page of history is two bisections and a slice, whatever the filters. Starts append
  (start times only move forward, so the sorted insert lands at the end).

Readings are kept beside their session, as the latest register, energy, power and time, and
folded into it when the session is next read: a flush of 10,000 readings then costs a tuple
each, not a new session each.

Every method runs to completion without awaiting, so each is atomic on the event loop.
"""

import functools
from bisect import bisect_left, bisect_right, insort
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from evcsm_schema import ChargingSession, SessionPage, SessionQuery, SessionStatus
from evcsm_schema.session import MAX_TRANSACTION_ID

from evcsm_daemon.core.sessions import to_ms
from evcsm_daemon.errors import SessionNotFound, StoreUnavailable
from evcsm_daemon.store.documents import with_id

Key = tuple[datetime, str, str]
"""A session's place in history: (startTime, id, sessionId), ascending."""
Reading = tuple[int, float, float, datetime]
"""A stored reading not yet folded into its session: meterWh, energyConsumed, powerKw,
updatedAt."""


@dataclass
class MemoryDatabase:
    """The data and its indexes."""

    sessions: dict[str, ChargingSession] = field(default_factory=dict)
    active: dict[str, str] = field(default_factory=dict)
    history: list[Key] = field(default_factory=list)
    charging: list[Key] = field(default_factory=list)
    """The `Charging` sessions' keys, sorted: a page finds those in its range by bisection."""
    charger_history: dict[str, list[Key]] = field(default_factory=dict)
    transactions: dict[int, str] = field(default_factory=dict)
    """OCPP `transactionId` → `sessionId`: the unique index on transaction ids."""
    last_transaction_id: int = 0
    readings: dict[str, Reading] = field(default_factory=dict)
    """`sessionId` → its latest stored reading, until `session()` folds it in."""

    def session(self, session_id: str) -> ChargingSession:
        """A stored session with its latest reading; KeyError when there is none."""
        session = self.sessions[session_id]
        reading = self.readings.pop(session_id, None)
        if reading is not None:
            wh, energy, power, at = reading
            session = session.model_copy(
                update={
                    "meter_wh": wh,
                    "energy_consumed": energy,
                    "power_kw": power,
                    "updated_at": at,
                }
            )
            self.sessions[session_id] = session
        return session


@functools.cache
def memory_database() -> MemoryDatabase:
    """This process's in-process database."""
    return MemoryDatabase()


def reset_memory() -> None:
    """Forget the in-process database (tests start from an empty one)."""
    memory_database.cache_clear()


def _key(session: ChargingSession) -> Key:
    return (session.start_time, session.id or "", session.session_id)


def _append(rows: list[Key], key: Key) -> None:
    if not rows or rows[-1] < key:
        rows.append(key)
    else:
        insort(rows, key)


class MemoryStore:
    """Charging sessions in this process's memory."""

    kind = "memory"
    durable = False

    def __init__(self, database: MemoryDatabase | None = None) -> None:
        self._db = database or memory_database()

    async def ensure_indexes(self) -> None:
        """Nothing to create: the indexes are the data structures."""

    async def close(self) -> None:
        """Nothing to release; the data stays for the next store on `memory`."""

    async def ping(self) -> bool:
        """Always answers."""
        return True

    async def insert_active(self, session: ChargingSession) -> tuple[ChargingSession, bool]:
        """Store a new active session, or return the charger's existing one."""
        db = self._db
        if session.session_id in db.sessions:
            return db.session(session.session_id), True
        if (current := db.active.get(session.charger_id)) is not None:
            return db.session(current), False
        if session.transaction_id is not None:
            if session.transaction_id in db.transactions:
                raise StoreUnavailable(
                    f"transaction id {session.transaction_id} is taken; nothing was changed"
                )
            db.transactions[session.transaction_id] = session.session_id
        stored = with_id(session)
        db.sessions[stored.session_id] = stored
        db.active[stored.charger_id] = stored.session_id
        _append(db.history, _key(stored))
        _append(db.charging, _key(stored))
        _append(db.charger_history.setdefault(stored.charger_id, []), _key(stored))
        return stored, True

    async def active(self, charger_id: str) -> ChargingSession | None:
        """The charger's active session, if any."""
        session_id = self._db.active.get(charger_id)
        return self._db.session(session_id) if session_id is not None else None

    async def all_active(self) -> list[ChargingSession]:
        """Every active session."""
        return [self._db.session(session_id) for session_id in self._db.active.values()]

    async def latest(self, charger_id: str) -> ChargingSession | None:
        """The charger's most recent session, active or not."""
        rows = self._db.charger_history.get(charger_id)
        return self._db.session(rows[-1][2]) if rows else None

    async def by_transaction(self, transaction_id: int) -> ChargingSession | None:
        """The session with this transaction id, if any."""
        session_id = self._db.transactions.get(transaction_id)
        return self._db.session(session_id) if session_id is not None else None

    async def ocpp_chargers(self) -> list[str]:
        """Chargers that have a session with a charge point id."""
        sessions = self._db.sessions
        return sorted({s.charger_id for s in sessions.values() if s.charge_point_id is not None})

    async def next_transaction_id(self) -> int:
        """The counter, raised by one."""
        if self._db.last_transaction_id >= MAX_TRANSACTION_ID:
            raise StoreUnavailable("transaction ids are exhausted")
        self._db.last_transaction_id += 1
        return self._db.last_transaction_id

    async def get(self, session_id: str) -> ChargingSession:
        """One session by its `sessionId`."""
        try:
            return self._db.session(session_id)
        except KeyError:
            raise SessionNotFound(f"no session with id {session_id!r}") from None

    async def query(self, query: SessionQuery) -> SessionPage:
        """A page of sessions matching the filters, newest first."""
        db = self._db
        rows = (
            db.history if query.charger_id is None else db.charger_history.get(query.charger_id, [])
        )
        lo = 0 if query.since is None else bisect_left(rows, (to_ms(query.since),))
        hi = len(rows) if query.until is None else bisect_left(rows, (to_ms(query.until),))
        hi = max(lo, hi)
        charging: list[Key] = []
        if lo < hi:
            if query.charger_id is None:
                first = bisect_left(db.charging, rows[lo])
                charging = db.charging[first : bisect_right(db.charging, rows[hi - 1])]
            elif (active := db.active.get(query.charger_id)) is not None:
                key = _key(db.sessions[active])
                charging = [key] if rows[lo] <= key <= rows[hi - 1] else []
        if query.status is SessionStatus.CHARGING:
            total = len(charging)
            page = charging[::-1][query.offset : query.offset + query.limit]
        elif query.status is SessionStatus.STOPPED:
            total = hi - lo - len(charging)
            page = _stopped_page(rows, lo, hi, charging, offset=query.offset, limit=query.limit)
        else:
            total = hi - lo
            top = hi - query.offset
            page = rows[max(lo, top - query.limit) : max(lo, top)][::-1]
        return SessionPage(
            items=[db.session(key[2]) for key in page],
            total=total,
            limit=query.limit,
            offset=query.offset,
        )

    async def save_readings(self, sessions: Sequence[ChargingSession]) -> None:
        """Raise the register, energy and time, set power, of sessions still Charging."""
        stored = self._db.sessions
        readings = self._db.readings
        for reading in sessions:
            session_id = reading.session_id
            current = stored.get(session_id)
            if current is None or not current.active:
                continue
            wh, energy, _, at = readings.get(session_id) or (
                current.meter_wh,
                current.energy_consumed,
                current.power_kw,
                current.updated_at,
            )
            readings[session_id] = (
                max(wh, reading.meter_wh),
                max(energy, reading.energy_consumed),
                reading.power_kw,
                max(at, reading.updated_at),
            )

    async def finish(self, stopped: ChargingSession) -> ChargingSession | None:
        """Store a stop; None when the session was no longer active."""
        db = self._db
        if stopped.session_id not in db.sessions:
            return None
        current = db.session(stopped.session_id)
        if not current.active:
            return None
        done = current.model_copy(
            update={
                "status": stopped.status,
                "end_time": stopped.end_time,
                "power_kw": 0.0,
                "stop_reason": stopped.stop_reason,
                "updated_at": max(current.updated_at, stopped.updated_at),
                "meter_wh": max(current.meter_wh, stopped.meter_wh),
                "energy_consumed": max(current.energy_consumed, stopped.energy_consumed),
            }
        )
        db.sessions[done.session_id] = done
        del db.active[done.charger_id]
        key = _key(done)
        del db.charging[bisect_left(db.charging, key)]
        return done


def _stopped_page(
    rows: list[Key], lo: int, hi: int, charging: list[Key], *, offset: int, limit: int
) -> list[Key]:
    """`limit` stopped rows of `rows[lo:hi]` from the newest, after skipping `offset` of them.

    The few active rows (at most one per charger) are located by bisection, so the page costs
    O(active + limit), not O(offset).
    """
    active_at = sorted(bisect_left(rows, key) for key in charging)
    skip = set(active_at)
    # Find the highest index `top` with exactly `offset` stopped rows in rows[top + 1 : hi].
    top = hi - 1 - offset
    while True:
        above = len(active_at) - bisect_left(active_at, top + 1)
        candidate = hi - 1 - offset - above
        if candidate == top:
            break
        top = candidate
    page: list[Key] = []
    index = top
    while index >= lo and len(page) < limit:
        if index not in skip:
            page.append(rows[index])
        index -= 1
    return page
