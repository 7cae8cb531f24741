"""The charger event boundary: what a charger protocol tells the service, and what it may ask.

A charger adapter (OCPP 1.6J today) turns what charge points send into these events and hands
each to an `EventSink`, one at a time per station and in the order the station sent them. Some
events need an answer the protocol must pass back (a transaction id, whether an idTag may charge);
the sink returns it as the typed outcome named on the event. The service implements the sink.

Every event carries the charger's own timestamp (`at`, aware UTC), as the charge point reported
it: messages a station queued while it was offline arrive late, with past timestamps. Where the
station reported no time (BootNotification, a StatusNotification without one, a closed socket),
`at` is when the central system received it. Energy is always the station's cumulative register in
whole Wh, never a difference.

One charge point connector is one charger of the fleet, id `{station_id}-{connector_id}`
(`charger_id()`); connector 0 stands for the whole station.

Chargers that live inside the daemon (the simulated fleet) have no station, no idTags and no
transaction ids: they report `SessionBegan`, `SessionEnded` by fleet id, and all the readings of
one meter tick as one `FleetSampled`, handed to `BatchSink.sampled` without an await so a tick of
thousands of sessions costs no task switch per session.

The other direction is `ChargerCommands`: what the service may ask of a station, always from
outside any event handling. Each command returns the station's answer, or raises a
`ChargerCommandError` of `evcsm_daemon.errors` saying why it was not carried out (offline, no
answer, refused, a bad answer). A charger id that names no connector raises `UnknownCharger`, an
argument the protocol cannot carry (an idTag over 20 characters) raises `BadRequest`.

Pure data: no IO, no protocol library.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from evcsm_schema import ChargingSession
from evcsm_schema.stations import Operability, Resetting, TriggeredMessage


def charger_id(station_id: str, connector_id: int) -> str:
    """The fleet id of one connector of a station."""
    return f"{station_id}-{connector_id}"


class ConnectorStatus(StrEnum):
    """A connector's state as OCPP 1.6 names it (ChargePointStatus)."""

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EV = "SuspendedEV"
    SUSPENDED_EVSE = "SuspendedEVSE"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class IdTagStatus(StrEnum):
    """Whether an idTag may charge (OCPP 1.6 AuthorizationStatus)."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"
    """The idTag is already charging elsewhere: what a one-session-per-tag rule answers."""


# --- Events: station -> service ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StationConnected:
    """A known station opened its connection (a reconnect without a reboot sends no boot)."""

    station_id: str
    at: datetime
    remote: str
    """The peer's address, for the log and the operator."""


@dataclass(frozen=True, slots=True)
class StationBooted:
    """A known station sent a BootNotification and it was accepted: it has (re)started.

    OCPP 1.6 reports no connector count here; each connector becomes known by its first
    StatusNotification (the central system asks for all of them after every boot).
    """

    station_id: str
    at: datetime
    vendor: str
    model: str
    serial: str | None
    firmware: str | None


@dataclass(frozen=True, slots=True)
class StationDisconnected:
    """The station's connection is gone: closed, dropped, or silent for 2 heartbeat intervals."""

    station_id: str
    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class ConnectorStatusChanged:
    """A StatusNotification; connector 0 is the station as a whole."""

    station_id: str
    connector_id: int
    at: datetime
    status: ConnectorStatus
    error_code: str
    """OCPP ChargePointErrorCode; `NoError` when all is well."""
    info: str | None
    vendor_error_code: str | None


@dataclass(frozen=True, slots=True)
class AuthorizeRequested:
    """A driver presented an idTag at the station. Outcome: `IdTagVerdict`."""

    station_id: str
    at: datetime
    id_tag: str


@dataclass(frozen=True, slots=True)
class TransactionStarted:
    """A StartTransaction. Outcome: `StartOutcome`.

    A station repeats the same StartTransaction when it missed the answer; the sink must then
    answer with the same transaction id: `idempotency_key` is equal for such repeats.
    """

    station_id: str
    connector_id: int
    at: datetime
    meter_start_wh: int
    id_tag: str
    reservation_id: int | None

    @property
    def idempotency_key(self) -> str:
        """Equal for repeats of the same StartTransaction, different for any other."""
        return "|".join(
            (
                self.station_id,
                str(self.connector_id),
                self.id_tag,
                self.at.isoformat(),
                str(self.meter_start_wh),
            )
        )


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One moment's readings; a value the station did not report is None."""

    at: datetime
    energy_wh: int | None
    """Energy.Active.Import.Register in whole Wh (floored)."""
    power_kw: float | None
    """Power.Active.Import, all phases together."""
    soc_percent: float | None
    """The car's state of charge, when the station knows it."""


@dataclass(frozen=True, slots=True)
class MeterValuesReported:
    """A MeterValues message with at least one usable sample."""

    station_id: str
    connector_id: int
    transaction_id: int | None
    samples: tuple[MeterSample, ...]


@dataclass(frozen=True, slots=True)
class TransactionStopped:
    """A StopTransaction; its transactionData is folded into `samples`. Outcome: `StopOutcome`."""

    station_id: str
    transaction_id: int
    at: datetime
    meter_stop_wh: int
    reason: str | None
    """OCPP Reason (Local, Remote, EVDisconnected, ...); None means Local."""
    id_tag: str | None
    samples: tuple[MeterSample, ...]


@dataclass(frozen=True, slots=True)
class SessionBegan:
    """A charger addressed by fleet id began delivering energy. Outcome: the `ChargingSession`
    it must meter, as stored: its own, or one another daemon stored on the charger first.

    The sink raises when the session could not be stored; the charger then does not begin.
    """

    charger_id: str
    at: datetime
    meter_start_wh: int


@dataclass(frozen=True, slots=True)
class SessionEnded:
    """A charger addressed by fleet id stopped the session `session_id`. Outcome: the stopped
    `ChargingSession`. The sink raises StoreUnavailable when the stop is not in effect (the
    charger carries on), WriteNotConfirmed when it is in effect but not yet stored."""

    charger_id: str
    session_id: str
    at: datetime
    meter_stop_wh: int
    reason: str | None


@dataclass(frozen=True, slots=True)
class FleetSampled:
    """One meter tick of a fleet: `(charger_id, register Wh, power kW)` of each charging charger."""

    at: datetime
    readings: Sequence[tuple[str, int, float]]


ChargerEvent = (
    StationConnected
    | StationBooted
    | StationDisconnected
    | ConnectorStatusChanged
    | AuthorizeRequested
    | TransactionStarted
    | MeterValuesReported
    | TransactionStopped
    | SessionBegan
    | SessionEnded
)


# --- Outcomes: the service's answers ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IdTagVerdict:
    """The answer to `AuthorizeRequested`."""

    status: IdTagStatus


@dataclass(frozen=True, slots=True)
class StartOutcome:
    """The answer to `TransactionStarted`: the id the station must use from now on."""

    transaction_id: int
    """Allocated by the service, unique in the store, 1 ... 2**31 - 1 (stations keep an int32)."""
    status: IdTagStatus
    """Anything but Accepted makes the station stop the transaction it has just started."""


@dataclass(frozen=True, slots=True)
class StopOutcome:
    """The answer to `TransactionStopped`; the station gets a reply either way."""

    known: bool
    """Whether the service knew the transaction (a repeat of a stop it recorded counts)."""
    id_tag_status: IdTagStatus = IdTagStatus.ACCEPTED


Outcome = IdTagVerdict | StartOutcome | StopOutcome | ChargingSession | None


class EventSink(Protocol):
    """Where a charger adapter sends its events (the service, or a test's recording fake).

    Events of one station come one at a time, in order. `handle` answers `IdTagVerdict` for
    `AuthorizeRequested`, `StartOutcome` for `TransactionStarted`, `StopOutcome` for
    `TransactionStopped` and None for the rest. It must be idempotent: a station repeats a
    message whose answer it missed, and must get the same answer. An exception is answered to
    the station as an internal error (it will retry later) and logged.
    """

    async def handle(self, event: ChargerEvent) -> Outcome:
        """Take in one event; answer what the event asks for."""
        ...


class BatchSink(EventSink, Protocol):
    """An event sink that also takes a fleet's meter ticks, synchronously (the service)."""

    def sampled(self, batch: FleetSampled) -> None:
        """Take in one tick's readings; never awaits, never raises for an unknown charger."""
        ...


# --- Commands: service -> station ---------------------------------------------------------------


class Acceptance(StrEnum):
    """Remote start/stop and reset answers."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


class ConfigurationStatus(StrEnum):
    """ChangeConfiguration answers."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    REBOOT_REQUIRED = "RebootRequired"
    NOT_SUPPORTED = "NotSupported"


class AvailabilityStatus(StrEnum):
    """ChangeAvailability answers."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    SCHEDULED = "Scheduled"


class UnlockStatus(StrEnum):
    """UnlockConnector answers."""

    UNLOCKED = "Unlocked"
    UNLOCK_FAILED = "UnlockFailed"
    NOT_SUPPORTED = "NotSupported"


class TriggerStatus(StrEnum):
    """TriggerMessage answers."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    NOT_IMPLEMENTED = "NotImplemented"


ResetKind = Resetting
"""Soft restarts the software, Hard the whole station (the REST body's own words)."""
Availability = Operability
"""Whether a connector (or the station, connector 0) may be used."""
TriggerKind = TriggeredMessage
"""Messages the central system may ask a station to send now."""


@dataclass(frozen=True, slots=True)
class ConfigurationEntry:
    """One configuration key as the station reports it."""

    key: str
    readonly: bool
    value: str | None


@dataclass(frozen=True, slots=True)
class ConfigurationReport:
    """The answer to GetConfiguration."""

    entries: tuple[ConfigurationEntry, ...]
    unknown_keys: tuple[str, ...]


class ChargerCommands(Protocol):
    """What the service may ask of a station (from outside any `EventSink.handle` call)."""

    async def request_start(self, charger_id: str, id_tag: str) -> Acceptance:
        """RemoteStartTransaction on the charger's connector for `id_tag`."""
        ...

    async def request_stop(self, charger_id: str, transaction_id: int) -> Acceptance:
        """RemoteStopTransaction of `transaction_id` on the charger's station."""
        ...

    async def change_configuration(
        self, station_id: str, key: str, value: str
    ) -> ConfigurationStatus:
        """Set one configuration key."""
        ...

    async def get_configuration(
        self, station_id: str, keys: tuple[str, ...] = ()
    ) -> ConfigurationReport:
        """Read configuration keys (all of them when `keys` is empty)."""
        ...

    async def reset(self, station_id: str, kind: ResetKind) -> Acceptance:
        """Restart the station."""
        ...

    async def unlock_connector(self, charger_id: str) -> UnlockStatus:
        """Release the cable of the charger's connector."""
        ...

    async def change_availability(
        self, charger_id: str, availability: Availability
    ) -> AvailabilityStatus:
        """Make a connector (connector 0: the whole station) operative or inoperative."""
        ...

    async def trigger_message(
        self, station_id: str, message: TriggerKind, connector_id: int | None = None
    ) -> TriggerStatus:
        """Ask the station to send `message` now (for one connector, or all)."""
        ...
