"""The seed system's routes, unchanged: /api/ChargingSessionAPI/start, stop, status.

They act on the default charger (the first configured), as the seed had only one.
"""

from evcsm_schema import ChargingSession
from evcsm_schema.session import DefaultStopReason
from fastapi import APIRouter

from evcsm_daemon.api.deps import Guarded, Service
from evcsm_daemon.api.responses import ERRORS, WRITE_ERRORS

router = APIRouter(prefix="/api/ChargingSessionAPI", tags=["seed-compatible"])


@router.post(
    "/start",
    dependencies=Guarded,
    responses=WRITE_ERRORS,
    response_model_exclude_none=True,
)
async def seed_start(service: Service) -> ChargingSession:
    """Start charging on the default charger; returns the existing session if already charging."""
    session, _ = await service.start()
    return session


@router.post(
    "/stop",
    dependencies=Guarded,
    responses=WRITE_ERRORS,
    response_model_exclude_none=True,
)
async def seed_stop(service: Service) -> ChargingSession:
    """Stop the default charger's session; 404 when none is active."""
    return await service.stop(reason=DefaultStopReason.REST)


@router.get("/status", responses=ERRORS, response_model_exclude_none=True)
async def seed_status(service: Service) -> ChargingSession:
    """The default charger's latest session; 404 when there is none yet."""
    return await service.latest()
