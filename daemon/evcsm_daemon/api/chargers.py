"""Chargers: their state, and start/stop per charger."""

from typing import Annotated

from evcsm_schema import CHARGER_ID_PATTERN, ChargerState, ChargingSession, StopRequest
from fastapi import APIRouter, Body, Path, Response, status

from evcsm_daemon.api.deps import Guarded, Service
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
    responses={**WRITE_ERRORS, 201: {"description": "A new session started."}},
    response_model_exclude_none=True,
)
async def start_charger(
    service: Service, charger_id: ChargerPath, response: Response
) -> ChargingSession:
    """Start charging: 201 with the new session, or 200 with the one already active."""
    session, created = await service.start(charger_id)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return session


@router.post(
    "/{charger_id}/stop",
    dependencies=Guarded,
    responses=WRITE_ERRORS,
    response_model_exclude_none=True,
)
async def stop_charger(
    service: Service,
    charger_id: ChargerPath,
    body: Annotated[StopRequest | None, Body()] = None,
) -> ChargingSession:
    """Stop charging; 404 when the charger has no active session."""
    reason = body.reason if body and body.reason else "Stopped by API request"
    return await service.stop(charger_id, reason)
