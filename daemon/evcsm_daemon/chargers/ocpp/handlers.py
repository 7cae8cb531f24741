"""What the central system answers to each request a charge point may send.

Each handler turns a schema-valid payload into an event (`translate`), asks the sink, and builds
the answer from the sink's outcome alone, so a repeated message gets the same answer.
"""

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from evcsm_daemon.chargers.ocpp import translate
from evcsm_daemon.chargers.ocpp.config import OcppConfig
from evcsm_daemon.chargers.ocpp.rpc import Payload
from evcsm_daemon.core.events import (
    AuthorizeRequested,
    ChargerEvent,
    IdTagVerdict,
    Outcome,
    StartOutcome,
    StopOutcome,
)

log = logging.getLogger(__name__)

MAX_TRANSACTION_ID = 2**31 - 1
_O = TypeVar("_O", IdTagVerdict, StartOutcome, StopOutcome)


class Station(Protocol):
    """What a handler needs of the connection it serves."""

    @property
    def station_id(self) -> str:
        """The charge point's identity."""
        ...

    @property
    def known(self) -> bool:
        """Whether its identity is admitted (unknown ones get their boot rejected)."""
        ...

    @property
    def config(self) -> OcppConfig:
        """The central system's settings."""
        ...

    async def ask(self, event: ChargerEvent) -> Outcome:
        """The sink's outcome for `event` (raises when it fails or takes too long)."""
        ...

    def configure_after_answer(self) -> None:
        """Once this answer is sent, set the meter interval and ask for every status."""
        ...


Handler = Callable[[Station, Payload], Awaitable[Payload]]


def utc_now() -> datetime:
    """The central system's clock."""
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    """An OCPP date-time: UTC, milliseconds, `Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def expect(outcome: Outcome, kind: type[_O]) -> _O:
    """The outcome if it is of `kind` (anything else is a fault of the sink)."""
    if not isinstance(outcome, kind):
        raise TypeError(f"the sink answered {outcome!r}, expected a {kind.__name__}")
    return outcome


async def boot_notification(station: Station, payload: Payload) -> Payload:
    """Accept a known station (and configure it); reject an unknown one."""
    now = utc_now()
    answer = {"currentTime": stamp(now), "interval": station.config.heartbeat_interval_s}
    if not station.known:
        log.debug("rejected BootNotification of unknown charge point %s", station.station_id)
        return {"status": "Rejected", **answer}
    await station.ask(translate.booted(station.station_id, payload, now))
    station.configure_after_answer()
    return {"status": "Accepted", **answer}


async def heartbeat(_station: Station, _payload: Payload) -> Payload:
    """The central system's time."""
    return {"currentTime": stamp(utc_now())}


async def status_notification(station: Station, payload: Payload) -> Payload:
    """A connector's (or, connector 0, the station's) state."""
    event = translate.status_changed(
        station.station_id, payload, utc_now(), station.config.max_connector_id
    )
    await station.ask(event)
    return {}


async def authorize(station: Station, payload: Payload) -> Payload:
    """Whether the idTag may charge: the sink decides (its allow-list, if any)."""
    event = AuthorizeRequested(station.station_id, utc_now(), payload["idTag"])
    verdict = expect(await station.ask(event), IdTagVerdict)
    return {"idTagInfo": {"status": verdict.status.value}}


async def start_transaction(station: Station, payload: Payload) -> Payload:
    """The transaction id the sink allocates (the same one for a repeat)."""
    event = translate.transaction_started(
        station.station_id, payload, station.config.max_connector_id
    )
    outcome = expect(await station.ask(event), StartOutcome)
    if not 1 <= outcome.transaction_id <= MAX_TRANSACTION_ID:
        raise ValueError(f"transaction id {outcome.transaction_id} is not 1..2**31-1")
    return {"transactionId": outcome.transaction_id, "idTagInfo": {"status": outcome.status.value}}


async def meter_values(station: Station, payload: Payload) -> Payload:
    """Meter samples of a connector."""
    event = translate.meter_values_reported(
        station.station_id, payload, station.config.max_connector_id
    )
    if event is None:
        log.debug("MeterValues of %s held no usable sample", station.station_id)
    else:
        await station.ask(event)
    return {}


async def stop_transaction(station: Station, payload: Payload) -> Payload:
    """Answered whether or not the sink knew the transaction, as OCPP requires."""
    event = translate.transaction_stopped(station.station_id, payload)
    outcome = expect(await station.ask(event), StopOutcome)
    if not outcome.known:
        log.warning(
            "charge point %s stopped unknown transaction %d",
            station.station_id,
            event.transaction_id,
        )
    if event.id_tag is None:
        return {}
    return {"idTagInfo": {"status": outcome.id_tag_status.value}}


async def data_transfer(station: Station, payload: Payload) -> Payload:
    """No vendor extensions are known."""
    log.info(
        "charge point %s sent DataTransfer of vendor %r (unknown)",
        station.station_id,
        payload["vendorId"][:255],
    )
    return {"status": "UnknownVendorId"}


async def firmware_status(station: Station, payload: Payload) -> Payload:
    """Logged."""
    log.info("charge point %s firmware: %s", station.station_id, payload["status"])
    return {}


async def diagnostics_status(station: Station, payload: Payload) -> Payload:
    """Logged."""
    log.info("charge point %s diagnostics upload: %s", station.station_id, payload["status"])
    return {}


HANDLERS: dict[str, Handler] = {
    "BootNotification": boot_notification,
    "Heartbeat": heartbeat,
    "StatusNotification": status_notification,
    "Authorize": authorize,
    "StartTransaction": start_transaction,
    "MeterValues": meter_values,
    "StopTransaction": stop_transaction,
    "DataTransfer": data_transfer,
    "FirmwareStatusNotification": firmware_status,
    "DiagnosticsStatusNotification": diagnostics_status,
}
"""Every request EVCSM handles; other OCPP 1.6 actions are answered NotSupported."""
