"""The charging service: the fleet's sessions, whatever the charger and whoever asks.

Chargers push: every fact reaches the service as an event of `core.events` through `handle()`
(the `EventSink` of the OCPP central system and of the simulated fleet) or, for a tick of the
simulated fleet, one `sampled()` batch. The service folds each through the pure rules of
`core/`, writes what must be stored through the store, and tells its listeners (the MQTT
publisher) what changed.

Clients ask: `request_start` and `request_stop` carry a request to the charger's driver and
return a `Pending` at once, once the charger accepted; the session starts or stops when the
charger's event arrives, or the request fails (rejected, offline, or no event within
`start_timeout_s` on the service's clock: `expire()` runs on every tick). `start()` and
`stop()` wait for that outcome: with a simulated charger it is already there when the request
returns, so the seed's calls keep their one-call answer. No lock is held across a request.

A simulated session whose start or stop the store could not confirm is asked again
(`unconfirmed.confirmed`); if that fails too, the charger is off, the client is told exactly
that, and the session is settled later (`settle()`), so the store never keeps a `Charging`
session nobody meters. OCPP stations instead send an unanswered transaction message again; see
`stations`.
"""

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta

from evcsm_schema import ChargerState, ChargingSession, SessionPage, SessionQuery
from evcsm_schema.base import utc_now
from evcsm_schema.session import DefaultStopReason

from evcsm_daemon.chargers.base import ChargerDriver, RemoteTransactions, StationDriver
from evcsm_daemon.chargers.simulated import SimulatedFleet
from evcsm_daemon.core.events import (
    Acceptance,
    ChargerEvent,
    FleetSampled,
    Outcome,
    SessionBegan,
    SessionEnded,
)
from evcsm_daemon.core.fleet import StationView
from evcsm_daemon.core.sessions import MeterReading, begin, finish, observe_at, to_ms
from evcsm_daemon.errors import (
    ChargerOffline,
    NoActiveSession,
    NoDefaultCharger,
    RequestNotFound,
    SessionNotFound,
    StartRejected,
    StopRejected,
    StoreError,
    StoreUnavailable,
    UnknownCharger,
    WriteNotConfirmed,
)
from evcsm_daemon.pending import Kind, Pending, Requests
from evcsm_daemon.registry import Charger, Fleet, Listener
from evcsm_daemon.stations import Authorizer, StationEvents, accept_any
from evcsm_daemon.store import SessionStore
from evcsm_daemon.unconfirmed import Unconfirmed, confirmed, settle

log = logging.getLogger(__name__)

REMOTE_ID_TAG = "EVCSM"
"""The idTag of starts asked through the REST API or MQTT."""
START_TIMEOUT_S = 60.0
TICK_SLICE = 100
"""Chargers read and folded between two turns of the event loop in a tick (~1 ms of CPU: a
charger costs ~10 µs, read, folded into its session and queued for storing)."""


class ChargingService:
    """Owns the fleet's sessions; the `EventSink` of every charger driver."""

    def __init__(
        self,
        store: SessionStore,
        simulated: SimulatedFleet,
        *,
        clock: Callable[[], datetime] = utc_now,
        start_timeout_s: float = START_TIMEOUT_S,
        authorize: Authorizer = accept_any,
        default_charger: str | None = None,
    ) -> None:
        specs = simulated.specs
        self._store = store
        self._simulated = simulated
        self._fleet = Fleet(clock)
        self._clock = clock
        self._timeout = timedelta(seconds=start_timeout_s)
        self._requests = Requests()
        self._unconfirmed = Unconfirmed()
        self._stations = StationEvents(self._fleet, store, self._requests, authorize)
        for spec in specs:
            self._fleet.chargers[spec.charger_id] = Charger(
                spec.charger_id,
                simulated,
                max_power_kw=spec.max_power_kw,
                simulation_speed=spec.simulation_speed,
            )
        self.default_charger = default_charger or (specs[0].charger_id if specs else None)
        """The seed's charger: a simulated one, an OCPP connector, or None (no default)."""
        if self.default_charger is not None and self.default_charger not in self._fleet.chargers:
            station_id, _, connector = self.default_charger.rpartition("-")
            if not station_id or not connector.isdecimal() or int(connector) < 1:
                raise ValueError(f"default charger {self.default_charger!r} is not configured")
            self._fleet.connector(station_id, int(connector), None)
        simulated.attach(self, clock)

    @property
    def store(self) -> SessionStore:
        """The session store."""
        return self._store

    def subscribe(self, listener: Listener) -> None:
        """Send status changes, charger changes and ticks to `listener` too."""
        self._fleet.listeners.append(listener)

    def attach_stations(self, commands: RemoteTransactions, admitted: Iterable[str] = ()) -> None:
        """Carry OCPP chargers' start and stop requests through `commands` (the central system,
        whose other `ChargerCommands` an adapter calls directly); the `admitted` stations are
        known (listed, Offline) before they ever connect."""
        for station_id in admitted:
            self._fleet.stations.setdefault(station_id, StationView(station_id))
        driver = StationDriver(commands)
        self._stations.driver = driver
        for charger in self._fleet.chargers.values():
            if charger.station_id is not None:
                charger.driver = driver

    def find_request(self, request_id: str) -> Pending:
        """A start or stop request by id (pending, or among the latest made)."""
        found = self._requests.find(request_id)
        if found is None:
            raise RequestNotFound(f"no request {request_id!r} (unknown, or long forgotten)")
        return found

    def _named(self, charger_id: str | None) -> str:
        """`charger_id`, or the default charger when None (the seed's calls)."""
        if charger_id is not None:
            return charger_id
        if self.default_charger is None:
            raise NoDefaultCharger
        return self.default_charger

    # Views.

    def charger_ids(self) -> list[str]:
        """Every charger: the configured ones in order, then OCPP connectors as they came."""
        return list(self._fleet.chargers)

    def station_views(self) -> list[tuple[StationView, list[str]]]:
        """Every OCPP station known, by identity, with the charger ids of its connectors."""
        fleet = self._fleet
        return [(fleet.stations[sid], fleet.of_station(sid)) for sid in sorted(fleet.stations)]

    def active_sessions(self) -> list[ChargingSession]:
        """The sessions charging now."""
        return list(self._fleet.active.values())

    def state(self, charger_id: str) -> ChargerState:
        """A charger's current state."""
        return self._fleet.state(charger_id)

    def states(self) -> list[ChargerState]:
        """Every charger's state."""
        return [self._fleet.state(charger_id) for charger_id in self._fleet.chargers]

    # Start-up.

    async def resume(self) -> None:
        """Load what the store holds: open sessions, the simulated chargers' registers.

        An open OCPP session comes back with its charger, Offline until its station connects
        and sends what it queued; an open session of a simulated charger no longer configured
        is stopped.
        """
        fleet = self._fleet
        now = self._clock()
        latest: dict[str, ChargingSession] = {}
        for charger_id, charger in fleet.chargers.items():
            if charger.driver is self._simulated and (
                found := await self._store.latest(charger_id)
            ):
                latest[charger_id] = found
                fleet.last[charger_id] = found
        self._simulated.power_up(latest)
        await self._resume_connectors()
        for session in await self._store.all_active():
            if session.charge_point_id is not None and session.connector_id is not None:
                fleet.connector(
                    session.charge_point_id, session.connector_id, self._stations.driver
                )
                fleet.begin(session)
                log.info(
                    "session %s on %s waits for its station", session.session_id, session.charger_id
                )
            elif session.charger_id in latest:
                fleet.begin(session)
                log.info("resumed session %s on %s", session.session_id, session.charger_id)
            else:
                stopped = finish(
                    session, _last_reading(session), now, DefaultStopReason.CHARGER_GONE
                )
                await confirmed(functools.partial(self._store.finish, stopped))
                log.warning(
                    "stopped session %s: charger %s is no longer configured",
                    session.session_id,
                    session.charger_id,
                )
        self._simulated.sample(now)

    async def _resume_connectors(self) -> None:
        """Every OCPP connector with stored sessions joins the fleet with its latest one, so
        listings and histories show it while its station is away."""
        fleet = self._fleet
        for charger_id in await self._store.ocpp_chargers():
            station_id, _, number = charger_id.rpartition("-")
            if charger_id in fleet.chargers or not number.isdecimal() or not station_id:
                continue
            fleet.connector(station_id, int(number), self._stations.driver)
            if (found := await self._store.latest(charger_id)) is not None and not found.active:
                fleet.last[charger_id] = found

    # Requests.

    async def request_start(
        self, charger_id: str | None = None, id_tag: str = REMOTE_ID_TAG
    ) -> Pending:
        """Ask a charger to start; the `Pending` resolves with the session once it started.

        Raises UnknownCharger, ChargerOffline (or another ChargerCommandError) when the request
        could not be delivered, StartRejected when the charger refused it, and what storing the
        session raised for a simulated charger. With a session already active the `Pending` is
        resolved with it at once; with a start already pending, that one is returned.
        """
        pending, _ = await self._request_start(self._named(charger_id), id_tag)
        return pending

    async def start(self, charger_id: str | None = None) -> tuple[ChargingSession, bool]:
        """Start charging and wait for the session; returns it and whether this call made it."""
        pending, mine = await self._request_start(self._named(charger_id), REMOTE_ID_TAG)
        session = await pending.wait()
        return session, mine and pending.created

    async def _request_start(self, charger_id: str, id_tag: str) -> tuple[Pending, bool]:
        charger = self._fleet.charger(charger_id)
        deadline = self._clock() + self._timeout
        if (active := self._fleet.active.get(charger_id)) is not None:
            done = Pending(Kind.START, charger_id, deadline)
            done.resolve(active, created=False)
            return done, False
        if (waiting := self._requests.get(Kind.START, charger_id)) is not None:
            return waiting, False
        pending = Pending(Kind.START, charger_id, deadline)
        await self._deliver(pending, charger, lambda d: d.request_start(charger_id, id_tag))
        return pending, True

    async def request_stop(
        self,
        charger_id: str | None = None,
        reason: str | None = None,
        *,
        session_id: str | None = None,
    ) -> Pending:
        """Ask a charger (or the charger of `session_id`) to stop its session.

        The `Pending` resolves with the stopped session. Raises NoActiveSession when there is
        none to stop, StopRejected when the charger refused, and the delivery errors of
        `request_start`.
        """
        if session_id is not None:
            charger_id = (await self.get(session_id)).charger_id
        charger_id = self._named(charger_id)
        charger = self._fleet.charger(charger_id)
        if (starting := self._requests.get(Kind.START, charger_id)) is not None:
            await _outcome(starting)  # a stop right after a start stops what it started
        async with self._fleet.lock(charger_id):
            await self._settle_charger(charger_id)
        if (waiting := self._requests.get(Kind.STOP, charger_id)) is not None:
            return waiting
        session = self._fleet.active.get(charger_id) or await self._store.active(charger_id)
        if session is None or (session_id is not None and session.session_id != session_id):
            raise NoActiveSession(charger_id)
        pending = Pending(Kind.STOP, charger_id, self._clock() + self._timeout, reason)
        await self._deliver(pending, charger, lambda d: d.request_stop(charger_id, session))
        return pending

    async def stop(
        self, charger_id: str | None = None, reason: str | None = None
    ) -> ChargingSession:
        """Stop charging and wait for the stopped session; NoActiveSession when idle."""
        pending = await self.request_stop(charger_id, reason)
        return await pending.wait()

    async def _deliver(
        self,
        pending: Pending,
        charger: Charger,
        send: Callable[[ChargerDriver], Awaitable[Acceptance]],
    ) -> None:
        """Wait on `pending` and send its request to the charger's driver; a request that is
        not delivered, or that the charger rejects, fails `pending` and is raised."""
        self._requests.add(pending)
        error: BaseException
        if charger.driver is None:
            error = ChargerOffline(charger.station_id or charger.charger_id)
        else:
            try:
                answer = await send(charger.driver)
            except BaseException as exc:
                self._requests.fail(pending, exc)
                raise
            if answer is Acceptance.ACCEPTED:
                return
            rejected = StartRejected if pending.kind is Kind.START else StopRejected
            error = rejected(f"charger {charger.charger_id!r} rejected the {pending.kind} request")
        self._requests.fail(pending, error)
        raise error

    # Events.

    async def handle(self, event: ChargerEvent) -> Outcome:
        """Take in one charger event; answer what it asks for (see `core.events`)."""
        if isinstance(event, SessionBegan):
            return await self._began(event)
        if isinstance(event, SessionEnded):
            return await self._ended(event)
        return await self._stations.handle(event)

    def sampled(self, batch: FleetSampled) -> None:
        """One tick's readings of the simulated fleet, folded into the active sessions."""
        active = self._fleet.active
        unsaved = self._fleet.unsaved
        at = to_ms(batch.at)
        for charger_id, wh, power_kw in batch.readings:
            session = active.get(charger_id)
            if session is None:
                continue
            session = observe_at(session, wh, power_kw, at)
            active[charger_id] = unsaved[session.session_id] = session

    async def _began(self, event: SessionBegan) -> ChargingSession:
        fleet = self._fleet
        charger_id = event.charger_id
        async with fleet.lock(charger_id):
            await self._settle_charger(charger_id)
            if (active := fleet.active.get(charger_id)) is not None:
                return self._started(active, created=False)
            # One write, no read first: `insert_active` answers with the session another
            # daemon sharing the store has active on the charger, if any, and stores nothing.
            begun = begin(charger_id, event.meter_start_wh, event.at)
            try:
                stored, created = await confirmed(lambda: self._store.insert_active(begun))
            except WriteNotConfirmed as exc:
                off = finish(
                    begun, _last_reading(begun), event.at, DefaultStopReason.START_NOT_CONFIRMED
                )
                self._unconfirmed.add(begun, off)
                raise WriteNotConfirmed(
                    f"the database did not confirm the start of session {begun.session_id} on "
                    f"{charger_id}: charging is off, and the session is stored as stopped once "
                    f"the database answers ({exc.message})"
                ) from exc
            if not stored.active:  # ours, but stopped elsewhere before the repeat read it back
                fleet.last[charger_id] = stored
                self._requests.resolve(Kind.START, charger_id, stored, created=True)
                return stored
            session = self._started(stored, created=created)
            if created:
                fleet.announce_status(stored)
                log.info("started session %s on %s", stored.session_id, charger_id)
            return session

    def _started(self, session: ChargingSession, *, created: bool) -> ChargingSession:
        """The charger's session is `session` (its own, or one found active in the store)."""
        self._fleet.begin(session)
        self._requests.resolve(Kind.START, session.charger_id, session, created=created)
        return session

    async def _ended(self, event: SessionEnded) -> ChargingSession:
        fleet = self._fleet
        charger_id = event.charger_id
        async with fleet.lock(charger_id):
            await self._settle_charger(charger_id)
            active = fleet.active.get(charger_id)
            if active is not None and active.session_id == event.session_id:
                session = active
            else:
                session = await self._store.get(event.session_id)
            pending = self._requests.get(Kind.STOP, charger_id)
            reason = pending.reason if pending and pending.reason else event.reason
            stopped = finish(session, MeterReading(event.meter_stop_wh, 0.0), event.at, reason)

            async def store_stop() -> ChargingSession:
                # None: not Charging any more (another daemon, or this stop's first attempt).
                done = await self._store.finish(stopped)
                return done or await self._store.get(session.session_id)

            try:
                stored = await confirmed(store_stop)
            except WriteNotConfirmed as exc:
                self._unconfirmed.add(session, stopped)
                fleet.end(stopped)
                self._requests.resolve(Kind.STOP, charger_id, stopped, created=False)
                raise WriteNotConfirmed(
                    f"the database did not confirm the stop of session {session.session_id} on "
                    f"{charger_id}: charging is off, and the stop is stored once the database "
                    f"answers ({exc.message})"
                ) from exc
            fleet.end(stored)
            self._requests.resolve(Kind.STOP, charger_id, stored, created=False)
            log.info(
                "stopped session %s on %s: %s", stored.session_id, charger_id, stored.stop_reason
            )
            return stored

    # Unconfirmed writes.

    @property
    def unconfirmed(self) -> int:
        """How many sessions wait for the store to confirm how they ended."""
        return len(self._unconfirmed)

    async def settle(self) -> int:
        """Bring the store in line with every unconfirmed start and stop; returns how many
        settled. Raises StoreError when the store still cannot say: they are kept for later."""
        done = 0
        for charger_id in {item.charger_id for item in self._unconfirmed.items()}:
            async with self._fleet.lock(charger_id):
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
            if stored is not None and charger_id not in self._fleet.active:
                self._fleet.last[charger_id] = stored
            log.info(
                "session %s on %s settled: %s",
                item.started.session_id,
                charger_id,
                "stored as stopped" if stored is not None else "never stored",
            )
        return len(items)

    # The meter tick and the flusher.

    async def tick(self) -> list[ChargingSession]:
        """Expire late requests, sample the simulated fleet, publish the active sessions: every
        simulated one (its meter moved), and each OCPP one that has new meter values since the
        last tick (a station's reading changes only when it sends one, every 10 s or so).

        The fleet is read and its readings folded `TICK_SLICE` chargers at a time, and the event
        loop runs between two slices: a command or a page that arrives during the tick of a
        large fleet waits for one slice, not for the whole tick. Every reading of a tick is
        taken at the same `now`; a charger stopped between two slices is not read.

        A tick never waits for the database: the readings wait in memory (the latest per
        session) for the next `flush()`. Nothing is lost if they never get there: a register
        is monotonic and a simulated meter is a function of time, so a restart recomputes the
        same figures, and an OCPP station's StopTransaction carries its final register.
        """
        now = self._clock()
        if len(self._requests):
            self._requests.expire(now, self._timeout.total_seconds())
        charging = self._simulated.charging()
        for start in range(0, len(charging), TICK_SLICE):
            if start:
                await asyncio.sleep(0)
            self._simulated.sample(now, charging[start : start + TICK_SLICE])
        fleet = self._fleet
        metered, fleet.metered = fleet.metered, set()
        current = [
            session
            for session in fleet.active.values()
            if session.charge_point_id is None or session.charger_id in metered
        ]
        for listener in fleet.listeners:
            listener.ticked(current)
        return current

    @property
    def unsaved(self) -> int:
        """How many sessions have readings not yet stored."""
        return len(self._fleet.unsaved)

    async def flush(self) -> int:
        """Store the latest unsaved reading of every session in one bulk write.

        Returns how many were written. On failure they are kept (newer readings taken in the
        meantime win) and StoreError is raised; writing them again is harmless.
        """
        fleet = self._fleet
        batch, fleet.unsaved = fleet.unsaved, {}
        if not batch:
            return 0
        try:
            await self._store.save_readings(list(batch.values()))
        except StoreError:  # unavailable or unconfirmed: `$max` makes storing them again safe
            fleet.unsaved = {**batch, **fleet.unsaved}
            raise
        return len(batch)

    # Queries.

    async def latest(self, charger_id: str | None = None) -> ChargingSession:
        """The charger's active or most recent session (the seed's `status`)."""
        charger_id = self._named(charger_id)
        self._fleet.charger(charger_id)
        if (active := self._fleet.active.get(charger_id)) is not None:
            return active
        latest = await self._store.latest(charger_id)
        if latest is None:
            raise SessionNotFound(f"no session on charger {charger_id!r} yet")
        return self._unconfirmed.stopped(latest.session_id) or latest

    async def get(self, session_id: str) -> ChargingSession:
        """One session by id (live values while it is charging)."""
        for session in self._fleet.active.values():
            if session.session_id == session_id:
                return session
        return self._unconfirmed.stopped(session_id) or await self._store.get(session_id)

    async def query(self, query: SessionQuery) -> SessionPage:
        """Stored sessions matching the filters, active ones with their live reading."""
        page = await self._store.query(query)
        charger_id = query.charger_id
        # A charger nobody knows, not one whose sessions are stored (another daemon's).
        if (
            charger_id is not None
            and charger_id not in self._fleet.chargers
            and not page.total
            and await self._store.latest(charger_id) is None
        ):
            raise UnknownCharger(charger_id)
        live = {s.session_id: s for s in self._fleet.active.values()}
        live |= {i.stopped.session_id: i.stopped for i in self._unconfirmed.items()}
        if not any(item.session_id in live for item in page.items):
            return page
        items = [live.get(item.session_id, item) for item in page.items]
        return page.model_copy(update={"items": items})


async def _outcome(pending: Pending) -> None:
    """Wait for a request to settle, whatever its outcome."""
    with contextlib.suppress(Exception):  # only the wait matters: its caller reports a failure
        await pending.wait()


def _last_reading(session: ChargingSession) -> MeterReading:
    return MeterReading(wh=session.meter_wh, power_kw=0.0)
