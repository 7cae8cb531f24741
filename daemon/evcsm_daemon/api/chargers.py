"""Chargers: their state, and start/stop per charger."""

from typing import Annotated

from evcsm_schema import CHARGER_ID_PATTERN, ChargerState, ChargingSession, StopRequest
from evcsm_schema.session import DefaultStopReason
from fastapi import APIRouter, Body, Path, Response, status
from fastapi.responses import JSONResponse

from evcsm_daemon.api.deps import Guarded, Service
from evcsm_daemon.api.requests import ACCEPTED, accepted
from evcsm_daemon.api.responses import ERRORS, WRITE_ERRORS

router = APIRouter(prefix="/api/chargers", tags=["chargers"])

ChargerPath = Annotated[str, Path(pattern=CHARGER_ID_PATTERN, description="Charger id.")]


@router.get("", responses=ERRORS, response_model_exclude_none=True)
async def list_chargers(service: Service) -> list[ChargerState]:
    """Every configured charger with its state."""
    return service.states()


@router.get("/{charger_id}", responses=ERRORS, response_model_exclude_none=True)
async def get_charger(service: Service, charger_id: ChargerPath) -> ChargerState:
    """One charger's state."""
    return service.state(charger_id)


@router.post(
    "/{charger_id}/start",
    dependencies=Guarded,
    responses={**WRITE_ERRORS, **ACCEPTED, 201: {"description": "A new session started."}},
    response_model=ChargingSession,
    response_model_exclude_none=True,
)
async def start_charger(
    service: Service, charger_id: ChargerPath, response: Response
) -> ChargingSession | JSONResponse:
    """Start charging: 201 with the new session, or 200 with the one already active; 202 with
    the request when an OCPP charger accepted it (its `Location` shows the outcome)."""
    pending = await service.request_start(charger_id)
    if not pending.done:
        return accepted(pending)
    session = await pending.wait()
    response.status_code = status.HTTP_201_CREATED if pending.created else status.HTTP_200_OK
    return session


@router.post(
    "/{charger_id}/stop",
    dependencies=Guarded,
    responses={**WRITE_ERRORS, **ACCEPTED},
    response_model=ChargingSession,
    response_model_exclude_none=True,
)
async def stop_charger(
    service: Service,
    charger_id: ChargerPath,
    body: Annotated[StopRequest | None, Body()] = None,
) -> ChargingSession | JSONResponse:
    """Stop charging: 200 with the stopped session, 202 with the request when an OCPP charger
    accepted it; 404 when the charger has no active session."""
    reason = body.reason if body and body.reason else DefaultStopReason.REST
    pending = await service.request_stop(charger_id, reason)
    if not pending.done:
        return accepted(pending)
    return await pending.wait()
