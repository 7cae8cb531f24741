"""What the service does with each event of an OCPP station.

- Connection, boot and status events fold into the station's and connector's views
  (`core.fleet`); a charger whose shown state changed is announced.
- `TransactionStarted` stores a new session with a transaction id from the store, after closing
  an open one on the connector (its stop was lost). A repeat (same idempotency key, hence the
  same `sessionId`) answers the id the first got and changes nothing.
- `MeterValuesReported` folds the samples into the session in memory; the flusher stores them
  with the simulated readings. No store call: a station's meter values never wait for a database.
- `TransactionStopped` stores the stop; a repeat, or a stop of an unknown transaction, changes
  nothing.

A store failure on a start or a stop raises: the station is answered an InternalError and
sends the message again later (OCPP stations queue transaction messages until answered), and the
repeat is idempotent. A charger cannot be "un-started": the car charges meanwhile, and its
session is stored with the station's own start time and register once the database answers.
"""

import functools
import logging
from collections.abc import Callable

from evcsm_schema import ChargingSession

from evcsm_daemon.chargers.base import ChargerDriver
from evcsm_daemon.core.events import (
    AuthorizeRequested,
    ChargerEvent,
    ConnectorStatusChanged,
    IdTagStatus,
    IdTagVerdict,
    MeterValuesReported,
    Outcome,
    StartOutcome,
    StationBooted,
    StationConnected,
    StationDisconnected,
    StopOutcome,
    TransactionStarted,
    TransactionStopped,
)
from evcsm_daemon.core.fleet import StationView, newer, seen, station_after
from evcsm_daemon.core.transactions import closed, opened, sampled, session_id_of, superseded
from evcsm_daemon.errors import SessionNotFound, StoreError, WriteNotConfirmed
from evcsm_daemon.pending import Kind, Requests
from evcsm_daemon.registry import Fleet
from evcsm_daemon.store import SessionStore
from evcsm_daemon.unconfirmed import confirmed

log = logging.getLogger(__name__)

Authorizer = Callable[[str], IdTagStatus]
"""Whether an idTag may charge: the hook for an allow-list."""


def accept_any(_id_tag: str) -> IdTagStatus:
    """Every idTag may charge (no allow-list)."""
    return IdTagStatus.ACCEPTED


class StationEvents:
    """Handles the events of OCPP stations for the service."""

    def __init__(
        self,
        fleet: Fleet,
        store: SessionStore,
        requests: Requests,
        authorize: Authorizer,
    ) -> None:
        self._fleet = fleet
        self._store = store
        self._requests = requests
        self.authorize = authorize
        self.driver: ChargerDriver | None = None
        """Carries requests to the stations; set when a central system is attached."""

    async def handle(self, event: ChargerEvent) -> Outcome:
        """Take in one station event; answer what it asks for."""
        if isinstance(event, StationConnected | StationBooted | StationDisconnected):
            self._station_changed(event)
            return None
        if isinstance(event, ConnectorStatusChanged):
            self._status_changed(event)
            return None
        if isinstance(event, AuthorizeRequested):
            self._touch(event.station_id)
            return IdTagVerdict(self.authorize(event.id_tag))
        if isinstance(event, TransactionStarted):
            self._touch(event.station_id)
            return await self._started(event)
        if isinstance(event, MeterValuesReported):
            self._touch(event.station_id)
            self._metered(event)
            return None
        if isinstance(event, TransactionStopped):
            self._touch(event.station_id)
            return await self._stopped(event)
        raise TypeError(f"not a station event: {event!r}")

    def _station(self, station_id: str) -> StationView:
        return self._fleet.stations.setdefault(station_id, StationView(station_id))

    def _touch(self, station_id: str) -> None:
        station = self._station(station_id)
        self._fleet.stations[station_id] = seen(station, self._fleet.clock())

    def _station_changed(
        self, event: StationConnected | StationBooted | StationDisconnected
    ) -> None:
        before = self._station(event.station_id)
        after = station_after(before, event, self._fleet.clock())
        self._fleet.stations[event.station_id] = after
        if isinstance(event, StationDisconnected):
            log.info("charge point %s is offline: %s", event.station_id, event.reason)
        if (before.online, before.vendor, before.firmware) != (
            after.online,
            after.vendor,
            after.firmware,
        ):
            for charger_id in self._fleet.of_station(event.station_id):
                self._fleet.announce(charger_id)

    def _status_changed(self, event: ConnectorStatusChanged) -> None:
        fleet = self._fleet
        if event.connector_id == 0:
            before = self._station(event.station_id)
            after = station_after(before, event, fleet.clock())
            fleet.stations[event.station_id] = after
            if after.report != before.report:
                for charger_id in fleet.of_station(event.station_id):
                    fleet.announce(charger_id)
            return
        self._touch(event.station_id)
        charger, added = fleet.connector(event.station_id, event.connector_id, self.driver)
        report = newer(charger.report, event)
        if added or report != charger.report:
            charger.report = report
            fleet.announce(charger.charger_id)

    async def _started(self, event: TransactionStarted) -> StartOutcome:
        fleet = self._fleet
        charger, _ = fleet.connector(event.station_id, event.connector_id, self.driver)
        verdict = self.authorize(event.id_tag)
        session_id = session_id_of(event)
        async with fleet.lock(charger.charger_id):
            known = await self._known(charger.charger_id, session_id)
            if known is not None and known.transaction_id is not None:
                return StartOutcome(known.transaction_id, verdict)
            stored = await self._insert(charger.charger_id, event)
            if stored.active:
                fleet.begin(stored)
            else:
                fleet.last[stored.charger_id] = stored
            fleet.announce_status(stored)
            self._requests.resolve(Kind.START, stored.charger_id, stored, created=True)
        log.info(
            "started session %s on %s: transaction %s, idTag %s",
            stored.session_id,
            stored.charger_id,
            stored.transaction_id,
            event.id_tag,
        )
        if stored.transaction_id is None:  # the store gave one; a session without is not OCPP's
            raise ValueError(f"session {stored.session_id} has no transaction id")
        return StartOutcome(stored.transaction_id, verdict)

    async def _known(self, charger_id: str, session_id: str) -> ChargingSession | None:
        """The session of an earlier copy of this StartTransaction, if one was stored."""
        for candidate in (self._fleet.active.get(charger_id), self._fleet.last.get(charger_id)):
            if candidate is not None and candidate.session_id == session_id:
                return candidate
        try:
            return await self._store.get(session_id)
        except SessionNotFound:
            return None

    async def _insert(self, charger_id: str, event: TransactionStarted) -> ChargingSession:
        """Store the new session, closing whatever session the connector still has open."""
        for _ in range(2):
            open_session = self._fleet.active.get(charger_id) or await self._store.active(
                charger_id
            )
            if open_session is not None:
                await self._close(superseded(open_session, event))
            transaction_id = await self._transaction_id()
            session = opened(event, transaction_id)
            stored, mine = await confirmed(functools.partial(self._store.insert_active, session))
            if mine:
                return stored
        raise WriteNotConfirmed(
            f"connector {event.connector_id} of {event.station_id} keeps an open session; "
            "the station will send its StartTransaction again"
        )

    async def _transaction_id(self) -> int:
        """A new transaction id; an id whose answer was lost is skipped, so ask once more."""
        try:
            return await self._store.next_transaction_id()
        except WriteNotConfirmed:
            return await self._store.next_transaction_id()

    async def _close(self, stopped: ChargingSession) -> ChargingSession:
        """Store a stop (raises StoreError if not stored) and make it known."""

        async def store_stop() -> ChargingSession:
            done = await self._store.finish(stopped)
            return done or await self._store.get(stopped.session_id)

        stored = await confirmed(store_stop)
        self._fleet.end(stored)
        log.info(
            "stopped session %s on %s: %s", stored.session_id, stored.charger_id, stored.stop_reason
        )
        return stored

    def _metered(self, event: MeterValuesReported) -> None:
        fleet = self._fleet
        charger, added = fleet.connector(event.station_id, event.connector_id, self.driver)
        if added:
            fleet.announce(charger.charger_id)
        if event.transaction_id is not None:
            owner = fleet.transactions.get(event.transaction_id)
            session = fleet.active.get(owner) if owner is not None else None
        else:
            session = fleet.active.get(charger.charger_id)
        if session is None:
            log.debug(
                "meter values of %s (transaction %s) for no open session",
                charger.charger_id,
                event.transaction_id,
            )
            return
        updated = sampled(session, event.samples)
        if updated != session:
            fleet.active[updated.charger_id] = updated
            fleet.unsaved[updated.session_id] = updated
            fleet.metered.add(updated.charger_id)

    async def _stopped(self, event: TransactionStopped) -> StopOutcome:
        fleet = self._fleet
        status = self.authorize(event.id_tag) if event.id_tag is not None else IdTagStatus.ACCEPTED
        owner = fleet.transactions.get(event.transaction_id)
        if owner is None:
            found = await self._store.by_transaction(event.transaction_id)
            if found is None:
                return StopOutcome(known=False, id_tag_status=status)
            owner = found.charger_id
        async with fleet.lock(owner):
            session = await self._open_transaction(owner, event.transaction_id)
            if session is None:  # a repeat, or it ended while this one waited for the lock
                return StopOutcome(known=True, id_tag_status=status)
            pending = self._requests.get(Kind.STOP, owner)
            try:
                stored = await self._close(
                    closed(session, event, pending.reason if pending else None)
                )
            except StoreError:
                log.warning(
                    "stop of transaction %d on %s not stored; the station will send it again",
                    event.transaction_id,
                    owner,
                )
                raise
            self._requests.resolve(Kind.STOP, owner, stored, created=False)
        return StopOutcome(known=True, id_tag_status=status)

    async def _open_transaction(
        self, charger_id: str, transaction_id: int
    ) -> ChargingSession | None:
        """The transaction's session if it is still open: in memory, else in the store."""
        current = self._fleet.active.get(charger_id)
        if current is not None and current.transaction_id == transaction_id:
            return current
        stored = await self._store.by_transaction(transaction_id)
        return stored if stored is not None and stored.active else None
