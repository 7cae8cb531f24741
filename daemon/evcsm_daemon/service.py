"""The charging service: start, stop, tick and resume, for every adapter alike.

A command arrives at an adapter (MQTT or REST) and becomes a call here; the service asks the
core what changes, writes it through the store, and hands the result to its event sinks (the
MQTT publisher). Per-charger locks serialise commands inside one daemon; the store's unique
index keeps the one-active-session guarantee across daemons.

The service depends on the `SessionStore` boundary only. A start or stop whose write the store
could not confirm is asked again (`unconfirmed.confirmed`); if that fails too, the charger is
turned off, the client is told exactly that, and the session is settled later (`settle()`), so
the store never keeps a `Charging` session nobody meters.
"""

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from evcsm_schema import ChargerState, ChargerStatus, ChargingSession, SessionPage, SessionQuery
from evcsm_schema.base import utc_now

from evcsm_daemon.chargers.base import Charger
from evcsm_daemon.core.sessions import MeterReading, begin, finish, observe
from evcsm_daemon.errors import (
    NoActiveSession,
    SessionNotFound,
    StoreError,
    StoreUnavailable,
    UnknownCharger,
    WriteNotConfirmed,
)
from evcsm_daemon.store import SessionStore
from evcsm_daemon.unconfirmed import Unconfirmed, confirmed, settle

log = logging.getLogger(__name__)

ORPHAN_REASON = "Charger no longer configured"
UNCONFIRMED_START_REASON = "Start not confirmed by the database"


class EventSink(Protocol):
    """Receives what the service did; implemented by the MQTT publisher."""

    def status_changed(self, session: ChargingSession, state: ChargerState) -> None:
        """A session started or stopped."""

    def ticked(self, sessions: Sequence[ChargingSession]) -> None:
        """The active sessions after a meter tick."""


class ChargingService:
    """Owns the chargers' sessions."""

    def __init__(
        self,
        store: SessionStore,
        chargers: Sequence[Charger],
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if not chargers:
            raise ValueError("at least one charger is needed")
        self._store = store
        self._chargers = {c.spec.charger_id: c for c in chargers}
        self.default_charger = chargers[0].spec.charger_id
        self._clock = clock
        self._active: dict[str, ChargingSession] = {}
        self._last: dict[str, ChargingSession] = {}
        self._locks = {charger_id: asyncio.Lock() for charger_id in self._chargers}
        self._sinks: list[EventSink] = []
        self._unsaved: dict[str, ChargingSession] = {}
        self._unconfirmed = Unconfirmed()

    @property
    def store(self) -> SessionStore:
        """The session store."""
        return self._store

    def subscribe(self, sink: EventSink) -> None:
        """Send status changes and ticks to `sink` too."""
        self._sinks.append(sink)

    def charger_ids(self) -> list[str]:
        """Configured charger ids, in configuration order."""
        return list(self._chargers)

    def active_sessions(self) -> list[ChargingSession]:
        """The sessions charging now."""
        return list(self._active.values())

    def state(self, charger_id: str) -> ChargerState:
        """A charger's current state."""
        charger = self._charger(charger_id)
        active = self._active.get(charger_id)
        return ChargerState(
            charger_id=charger_id,
            max_power_kw=charger.spec.max_power_kw,
            status=ChargerStatus.CHARGING if active else ChargerStatus.IDLE,
            session=active or self._last.get(charger_id),
            updated_at=self._clock(),
            simulation_speed=charger.spec.simulation_speed,
        )

    def states(self) -> list[ChargerState]:
        """Every charger's state."""
        return [self.state(charger_id) for charger_id in self._chargers]

    async def resume(self) -> None:
        """Load what the store holds: carry on active sessions, restore registers."""
        now = self._clock()
        for charger_id, charger in self._chargers.items():
            latest = await self._store.latest(charger_id)
            if latest is None:
                continue
            charger.restore_register(latest.meter_wh)
            self._last[charger_id] = latest
            if latest.active:
                await charger.resume(latest.start_time, latest.meter_start_wh)
                self._active[charger_id] = observe(latest, charger.read(now), now)
                log.info("resumed session %s on %s", latest.session_id, charger_id)
        for orphan in await self._store.all_active():
            if orphan.charger_id not in self._chargers:
                stopped = finish(orphan, _last_reading(orphan), now, ORPHAN_REASON)
                await confirmed(functools.partial(self._store.finish, stopped))
                log.warning(
                    "stopped session %s: charger %s is no longer configured",
                    orphan.session_id,
                    orphan.charger_id,
                )

    async def start(self, charger_id: str | None = None) -> tuple[ChargingSession, bool]:
        """Start charging; returns the active session and whether this call started it."""
        charger_id = charger_id or self.default_charger
        charger = self._charger(charger_id)
        async with self._locks[charger_id]:
            if (active := self._active.get(charger_id)) is not None:
                return active, False
            await self._settle_charger(charger_id)
            now = self._clock()
            if (elsewhere := await self._store.active(charger_id)) is not None:
                return await self._adopt(charger, elsewhere, now), False
            reading = await charger.start(now)
            begun = begin(charger_id, reading.wh, now)
            try:
                stored, created = await confirmed(lambda: self._store.insert_active(begun))
            except StoreUnavailable:
                await charger.stop(now)
                raise
            except WriteNotConfirmed as exc:
                await charger.stop(now)
                off = finish(begun, _last_reading(begun), now, UNCONFIRMED_START_REASON)
                self._unconfirmed.add(begun, off)
                raise WriteNotConfirmed(
                    f"the database did not confirm the start of session {begun.session_id} on "
                    f"{charger_id}: charging is off, and the session is stored as stopped once "
                    f"the database answers ({exc.message})"
                ) from exc
            if not created:
                return await self._adopt(charger, stored, now), False
            if not stored.active:  # ours, but stopped elsewhere before the repeat read it back
                await charger.stop(now)
                self._last[charger_id] = stored
                return stored, True
            self._active[charger_id] = self._last[charger_id] = stored
            self._emit_status(stored)
            log.info("started session %s on %s", stored.session_id, charger_id)
            return stored, True

    async def stop(
        self, charger_id: str | None = None, reason: str | None = None
    ) -> ChargingSession:
        """Stop charging; raises NoActiveSession when the charger is idle."""
        charger_id = charger_id or self.default_charger
        charger = self._charger(charger_id)
        async with self._locks[charger_id]:
            await self._settle_charger(charger_id)
            session = self._active.get(charger_id) or await self._store.active(charger_id)
            if session is None:
                raise NoActiveSession(charger_id)
            now = self._clock()
            reading = await charger.stop(now)
            stopped = finish(session, reading, now, reason)

            async def store_stop() -> ChargingSession:
                # None: not Charging any more (another daemon, or this stop's first attempt).
                done = await self._store.finish(stopped)
                return done or await self._store.get(session.session_id)

            try:
                stored = await confirmed(store_stop)
            except StoreUnavailable:
                await charger.resume(session.start_time, session.meter_start_wh)
                raise
            except WriteNotConfirmed as exc:
                self._unconfirmed.add(session, stopped)
                self._off(stopped)
                raise WriteNotConfirmed(
                    f"the database did not confirm the stop of session {session.session_id} on "
                    f"{charger_id}: charging is off, and the stop is stored once the database "
                    f"answers ({exc.message})"
                ) from exc
            self._off(stored)
            log.info(
                "stopped session %s on %s: %s", stored.session_id, charger_id, stored.stop_reason
            )
            return stored

    def _off(self, stopped: ChargingSession) -> None:
        """The charger is off: forget its active session and announce the stop."""
        self._unsaved.pop(stopped.session_id, None)
        self._active.pop(stopped.charger_id, None)
        self._last[stopped.charger_id] = stopped
        self._emit_status(stopped)

    @property
    def unconfirmed(self) -> int:
        """How many sessions wait for the store to confirm how they ended."""
        return len(self._unconfirmed)

    async def settle(self) -> int:
        """Bring the store in line with every unconfirmed start and stop; returns how many
        settled. Raises StoreError when the store still cannot say: they are kept for later."""
        done = 0
        for charger_id in {item.charger_id for item in self._unconfirmed.items()}:
            async with self._locks[charger_id]:
                done += await self._settle_charger(charger_id)
        return done

    async def _settle_charger(self, charger_id: str) -> int:
        """Settle the charger's unconfirmed sessions (its lock held); StoreError if not now."""
        items = self._unconfirmed.items(charger_id)
        for item in items:
            try:
                stored = await settle(self._store, item)
            except StoreError as exc:
                raise StoreUnavailable(
                    f"session {item.started.session_id} on {charger_id} is not settled yet, "
                    f"so nothing was changed: {exc.message}"
                ) from exc
            self._unconfirmed.discard(item.started.session_id)
            if stored is not None and charger_id not in self._active:
                self._last[charger_id] = stored
            log.info(
                "session %s on %s settled: %s",
                item.started.session_id,
                charger_id,
                "stored as stopped" if stored is not None else "never stored",
            )
        return len(items)

    def tick(self) -> list[ChargingSession]:
        """Read every active charger's meter and publish the readings; `flush()` stores them.

        A tick never waits for the database: metering and publishing keep their rhythm however
        slow the store is, and the readings wait in `_unsaved` (the latest per session) for the
        next flush. Nothing is lost if they never get there: the register is monotonic and the
        meter is a function of time, so a restart recomputes the same figures.
        """
        now = self._clock()
        current = [
            observe(session, self._chargers[charger_id].read(now), now)
            for charger_id, session in self._active.items()
        ]
        for session in current:
            self._active[session.charger_id] = self._last[session.charger_id] = session
            self._unsaved[session.session_id] = session
        for sink in self._sinks:
            sink.ticked(current)
        return current

    @property
    def unsaved(self) -> int:
        """How many sessions have readings not yet stored."""
        return len(self._unsaved)

    async def flush(self) -> int:
        """Store the latest unsaved reading of every session in one bulk write.

        Returns how many were written. On failure they are kept (newer readings taken in the
        meantime win) and StoreError is raised; writing them again is harmless.
        """
        batch, self._unsaved = self._unsaved, {}
        if not batch:
            return 0
        try:
            await self._store.save_readings(list(batch.values()))
        except StoreError:  # unavailable or unconfirmed: `$max` makes storing them again safe
            self._unsaved = {**batch, **self._unsaved}
            raise
        return len(batch)

    async def latest(self, charger_id: str | None = None) -> ChargingSession:
        """The charger's active or most recent session (the seed's `status`)."""
        charger_id = charger_id or self.default_charger
        self._charger(charger_id)
        if (active := self._active.get(charger_id)) is not None:
            return active
        latest = await self._store.latest(charger_id)
        if latest is None:
            raise SessionNotFound(f"no session on charger {charger_id!r} yet")
        return self._unconfirmed.stopped(latest.session_id) or latest

    async def get(self, session_id: str) -> ChargingSession:
        """One session by id (live values while it is charging)."""
        for session in self._active.values():
            if session.session_id == session_id:
                return session
        return self._unconfirmed.stopped(session_id) or await self._store.get(session_id)

    async def query(self, query: SessionQuery) -> SessionPage:
        """Stored sessions matching the filters, active ones with their live reading."""
        if query.charger_id is not None:
            self._charger(query.charger_id)
        page = await self._store.query(query)
        live = {s.session_id: s for s in self._active.values()}
        live |= {i.stopped.session_id: i.stopped for i in self._unconfirmed.items()}
        if not any(item.session_id in live for item in page.items):
            return page
        items = [live.get(item.session_id, item) for item in page.items]
        return page.model_copy(update={"items": items})

    async def _adopt(
        self, charger: Charger, session: ChargingSession, now: datetime
    ) -> ChargingSession:
        """Take over a session another daemon (or an earlier race) stored."""
        await charger.resume(session.start_time, session.meter_start_wh)
        live = observe(session, charger.read(now), now)
        self._active[session.charger_id] = self._last[session.charger_id] = live
        return live

    def _charger(self, charger_id: str) -> Charger:
        try:
            return self._chargers[charger_id]
        except KeyError:
            raise UnknownCharger(charger_id) from None

    def _emit_status(self, session: ChargingSession) -> None:
        state = self.state(session.charger_id)
        for sink in self._sinks:
            sink.status_changed(session, state)


def _last_reading(session: ChargingSession) -> MeterReading:
    return MeterReading(wh=session.meter_wh, power_kw=0.0)
