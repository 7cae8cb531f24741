"""The service's commands as OCPP 1.6 calls, and the stations' answers as typed results.

Chargers are addressed by fleet id `{station_id}-{connector_id}`; the station id is everything
before the last `-`, so station ids may hold dashes of their own.
"""

from abc import ABC, abstractmethod
from enum import StrEnum
from typing import TypeVar

from evcsm_daemon.chargers.ocpp.rpc import Payload
from evcsm_daemon.chargers.ocpp.station import StationLink
from evcsm_daemon.core.events import (
    Acceptance,
    Availability,
    AvailabilityStatus,
    ConfigurationEntry,
    ConfigurationReport,
    ConfigurationStatus,
    ResetKind,
    TriggerKind,
    TriggerStatus,
    UnlockStatus,
)
from evcsm_daemon.errors import BadRequest, ChargerBadAnswer, ChargerOffline, UnknownCharger

_S = TypeVar("_S", bound=StrEnum)


def split_charger_id(charger_id: str, *, station_wide: bool = False) -> tuple[str, int]:
    """`("CP-7", 2)` for `"CP-7-2"`; connector 0 only where the whole station is meant."""
    station_id, sep, connector = charger_id.rpartition("-")
    if not sep or not station_id or not connector.isdecimal() or len(connector) > 4:
        raise UnknownCharger(charger_id)
    number = int(connector)
    if number == 0 and not station_wide:
        raise BadRequest(f"{charger_id!r} is the whole station, not a connector")
    return station_id, number


def _status(answer: Payload, kind: type[_S]) -> _S:
    """The answer's `status` (the schema already limited it to the OCPP values)."""
    try:
        return kind(answer["status"])
    except (KeyError, ValueError):
        raise ChargerBadAnswer(f"unexpected answer {answer!r:.200}") from None


class StationCommands(ABC):
    """`ChargerCommands` over OCPP 1.6: each method returns the station's answer."""

    @abstractmethod
    def _station(self, station_id: str) -> StationLink | None:
        """The open link of an admitted station, if it is connected."""

    async def _call(self, station_id: str, action: str, payload: Payload) -> Payload:
        link = self._station(station_id)
        if link is None:
            raise ChargerOffline(station_id)
        return await link.call(action, payload)

    async def request_start(self, charger_id: str, id_tag: str) -> Acceptance:
        """RemoteStartTransaction on the charger's connector."""
        station_id, connector = split_charger_id(charger_id)
        answer = await self._call(
            station_id, "RemoteStartTransaction", {"connectorId": connector, "idTag": id_tag}
        )
        return _status(answer, Acceptance)

    async def request_stop(self, charger_id: str, transaction_id: int) -> Acceptance:
        """RemoteStopTransaction on the charger's station."""
        station_id, _ = split_charger_id(charger_id, station_wide=True)
        answer = await self._call(
            station_id, "RemoteStopTransaction", {"transactionId": transaction_id}
        )
        return _status(answer, Acceptance)

    async def change_configuration(
        self, station_id: str, key: str, value: str
    ) -> ConfigurationStatus:
        """ChangeConfiguration of one key."""
        answer = await self._call(station_id, "ChangeConfiguration", {"key": key, "value": value})
        return _status(answer, ConfigurationStatus)

    async def get_configuration(
        self, station_id: str, keys: tuple[str, ...] = ()
    ) -> ConfigurationReport:
        """GetConfiguration of `keys` (all when empty)."""
        answer = await self._call(
            station_id, "GetConfiguration", {"key": list(keys)} if keys else {}
        )
        entries = tuple(
            ConfigurationEntry(item["key"], item["readonly"], item.get("value"))
            for item in answer.get("configurationKey", ())
        )
        return ConfigurationReport(entries, tuple(answer.get("unknownKey", ())))

    async def reset(self, station_id: str, kind: ResetKind) -> Acceptance:
        """Reset, Soft or Hard."""
        answer = await self._call(station_id, "Reset", {"type": kind.value})
        return _status(answer, Acceptance)

    async def unlock_connector(self, charger_id: str) -> UnlockStatus:
        """UnlockConnector."""
        station_id, connector = split_charger_id(charger_id)
        answer = await self._call(station_id, "UnlockConnector", {"connectorId": connector})
        return _status(answer, UnlockStatus)

    async def change_availability(
        self, charger_id: str, availability: Availability
    ) -> AvailabilityStatus:
        """ChangeAvailability of a connector, or (connector 0) the station."""
        station_id, connector = split_charger_id(charger_id, station_wide=True)
        answer = await self._call(
            station_id,
            "ChangeAvailability",
            {"connectorId": connector, "type": availability.value},
        )
        return _status(answer, AvailabilityStatus)

    async def trigger_message(
        self, station_id: str, message: TriggerKind, connector_id: int | None = None
    ) -> TriggerStatus:
        """TriggerMessage, for one connector or all."""
        payload: Payload = {"requestedMessage": message.value}
        if connector_id is not None:
            payload["connectorId"] = connector_id
        answer = await self._call(station_id, "TriggerMessage", payload)
        return _status(answer, TriggerStatus)
