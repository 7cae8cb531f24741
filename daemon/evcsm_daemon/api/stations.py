"""OCPP stations: their identity and connection, and the commands an operator sends them.

Every command is a write (bearer token when EVCSM_API_TOKEN is set), even GetConfiguration: it
talks to the station. The body is checked before anything is sent; the answer is the station's
own (`status`), or an error: unknown_charger (no such station), charger_offline (not
connected), charger_no_answer (no answer within 30 s), charger_refused (an OCPP error).
"""

from typing import Annotated, Any

from evcsm_schema.stations import (
    ChangeAvailabilityRequest,
    ChangeConfigurationRequest,
    CommandStatus,
    ConfigurationReply,
    GetConfigurationRequest,
    ResetRequest,
    StationInfo,
    TriggerMessageRequest,
    UnlockConnectorRequest,
)
from fastapi import APIRouter, Body, Path

from evcsm_daemon.api.deps import Guarded, Operations
from evcsm_daemon.api.responses import ERRORS, WRITE_ERRORS, problem_response
from evcsm_daemon.chargers.ocpp.config import IDENTITY_PATTERN

router = APIRouter(prefix="/api/stations", tags=["stations"])

StationPath = Annotated[
    str, Path(pattern=f"^{IDENTITY_PATTERN.pattern}$", description="Charge point identity.")
]
COMMAND_ERRORS: dict[int | str, dict[str, Any]] = {
    **WRITE_ERRORS,
    502: problem_response("The station answered with an OCPP error (charger_refused)."),
    504: problem_response("The station did not answer in time (charger_no_answer)."),
}


@router.get("", responses=ERRORS, response_model_exclude_none=True)
async def list_stations(operations: Operations) -> list[StationInfo]:
    """Every OCPP charge point known: admitted by name, seen, or with stored sessions."""
    return operations.stations()


@router.get("/{station_id}", responses=ERRORS, response_model_exclude_none=True)
async def get_station(operations: Operations, station_id: StationPath) -> StationInfo:
    """One charge point."""
    return operations.station(station_id)


@router.post("/{station_id}/get-configuration", dependencies=Guarded, responses=COMMAND_ERRORS)
async def get_configuration(
    operations: Operations,
    station_id: StationPath,
    body: Annotated[GetConfigurationRequest | None, Body()] = None,
) -> ConfigurationReply:
    """GetConfiguration: the keys asked for (every key without a body)."""
    return await operations.get_configuration(station_id, body or GetConfigurationRequest())


@router.post("/{station_id}/change-configuration", dependencies=Guarded, responses=COMMAND_ERRORS)
async def change_configuration(
    operations: Operations, station_id: StationPath, body: ChangeConfigurationRequest
) -> CommandStatus:
    """ChangeConfiguration of one key: Accepted, Rejected, RebootRequired or NotSupported."""
    return await operations.change_configuration(station_id, body)


@router.post("/{station_id}/reset", dependencies=Guarded, responses=COMMAND_ERRORS)
async def reset(
    operations: Operations, station_id: StationPath, body: ResetRequest
) -> CommandStatus:
    """Reset, Soft or Hard: Accepted or Rejected."""
    return await operations.reset(station_id, body)


@router.post("/{station_id}/unlock-connector", dependencies=Guarded, responses=COMMAND_ERRORS)
async def unlock_connector(
    operations: Operations, station_id: StationPath, body: UnlockConnectorRequest
) -> CommandStatus:
    """UnlockConnector: Unlocked, UnlockFailed or NotSupported."""
    return await operations.unlock_connector(station_id, body.connector_id)


@router.post("/{station_id}/change-availability", dependencies=Guarded, responses=COMMAND_ERRORS)
async def change_availability(
    operations: Operations, station_id: StationPath, body: ChangeAvailabilityRequest
) -> CommandStatus:
    """ChangeAvailability of a connector (0: the station): Accepted, Rejected or Scheduled."""
    return await operations.change_availability(station_id, body)


@router.post("/{station_id}/trigger-message", dependencies=Guarded, responses=COMMAND_ERRORS)
async def trigger_message(
    operations: Operations, station_id: StationPath, body: TriggerMessageRequest
) -> CommandStatus:
    """TriggerMessage: Accepted, Rejected or NotImplemented."""
    return await operations.trigger_message(station_id, body)
