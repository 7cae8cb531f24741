"""What an operator asks of OCPP stations: who they are, and the commands that need a person.

The REST API (`api.stations`) calls these; each command goes to the central system and returns
the station's own answer (Accepted, Rejected, ...). What cannot be carried out raises: a station
never seen is `UnknownCharger`, one not connected `ChargerOffline`, no answer in time
`ChargerNoAnswer`, a CALLERROR `ChargerRefused`. Each command is logged in one line, so the log
tells who reset what and what the station said.
"""

import logging

from evcsm_schema.stations import (
    ChangeAvailabilityRequest,
    ChangeConfigurationRequest,
    CommandStatus,
    ConfigurationKey,
    ConfigurationReply,
    GetConfigurationRequest,
    ResetRequest,
    StationInfo,
    TriggerMessageRequest,
)

from evcsm_daemon.core.events import ChargerCommands, charger_id
from evcsm_daemon.core.fleet import StationView
from evcsm_daemon.errors import UnknownStation
from evcsm_daemon.service import ChargingService

log = logging.getLogger(__name__)


def station_info(view: StationView, chargers: list[str]) -> StationInfo:
    """A station as the REST API shows it."""
    report = view.report
    return StationInfo(
        charge_point_id=view.station_id,
        connected=view.online,
        vendor=view.vendor,
        model=view.model,
        serial_number=view.serial,
        firmware_version=view.firmware,
        last_message_at=view.last_seen,
        error_code=report.error_code if report else None,
        chargers=chargers,
    )


class StationOperations:
    """The operator's view of the stations, and their commands."""

    def __init__(self, service: ChargingService, commands: ChargerCommands | None) -> None:
        self._service = service
        self._commands = commands

    def stations(self) -> list[StationInfo]:
        """Every station known: admitted by name, seen, or with stored sessions."""
        return [station_info(view, chargers) for view, chargers in self._service.station_views()]

    def station(self, station_id: str) -> StationInfo:
        """One station."""
        for view, chargers in self._service.station_views():
            if view.station_id == station_id:
                return station_info(view, chargers)
        raise UnknownStation(station_id)

    def _to(self, station_id: str) -> ChargerCommands:
        """The commands of a known station."""
        self.station(station_id)
        if self._commands is None:
            raise UnknownStation(station_id)
        return self._commands

    async def get_configuration(
        self, station_id: str, request: GetConfigurationRequest
    ) -> ConfigurationReply:
        """GetConfiguration of some keys, or all."""
        report = await self._to(station_id).get_configuration(station_id, tuple(request.keys))
        log.info(
            "charge point %s: GetConfiguration of %s: %d keys, %d unknown",
            station_id,
            ",".join(request.keys)[:200] or "every key",
            len(report.entries),
            len(report.unknown_keys),
        )
        return ConfigurationReply(
            configuration_key=[
                ConfigurationKey(key=entry.key, readonly=entry.readonly, value=entry.value)
                for entry in report.entries
            ],
            unknown_key=list(report.unknown_keys),
        )

    async def change_configuration(
        self, station_id: str, request: ChangeConfigurationRequest
    ) -> CommandStatus:
        """ChangeConfiguration of one key (the value is not logged: it may be a secret)."""
        answer = await self._to(station_id).change_configuration(
            station_id, request.key, request.value
        )
        return self._answered(station_id, f"ChangeConfiguration of {request.key}", answer)

    async def reset(self, station_id: str, request: ResetRequest) -> CommandStatus:
        """Reset, Soft or Hard."""
        answer = await self._to(station_id).reset(station_id, request.type)
        return self._answered(station_id, f"Reset {request.type.value}", answer)

    async def unlock_connector(self, station_id: str, connector_id: int) -> CommandStatus:
        """UnlockConnector."""
        commands = self._to(station_id)
        answer = await commands.unlock_connector(charger_id(station_id, connector_id))
        return self._answered(station_id, f"UnlockConnector {connector_id}", answer)

    async def change_availability(
        self, station_id: str, request: ChangeAvailabilityRequest
    ) -> CommandStatus:
        """ChangeAvailability of a connector, or (connector 0) the station."""
        answer = await self._to(station_id).change_availability(
            charger_id(station_id, request.connector_id), request.type
        )
        return self._answered(
            station_id,
            f"ChangeAvailability {request.type.value} of connector {request.connector_id}",
            answer,
        )

    async def trigger_message(
        self, station_id: str, request: TriggerMessageRequest
    ) -> CommandStatus:
        """TriggerMessage."""
        kind = request.requested_message
        answer = await self._to(station_id).trigger_message(station_id, kind, request.connector_id)
        return self._answered(station_id, f"TriggerMessage {kind.value}", answer)

    @staticmethod
    def _answered(station_id: str, what: str, status: str) -> CommandStatus:
        log.info("charge point %s: %s: %s", station_id, what, status)
        return CommandStatus(
            charge_point_id=station_id, action=what.split(maxsplit=1)[0], status=status
        )
