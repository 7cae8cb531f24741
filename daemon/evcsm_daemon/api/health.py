"""Liveness and readiness probes."""

from collections.abc import Awaitable, Callable

from evcsm_schema import Health, Readiness
from fastapi import APIRouter, Request, Response, status

from evcsm_daemon.api.responses import ANY_REQUEST

router = APIRouter(tags=["health"])

ReadinessProbe = Callable[[], Awaitable[Readiness]]


@router.get("/healthz", responses=ANY_REQUEST)
async def healthz() -> Health:
    """The daemon answers."""
    return Health()


@router.get(
    "/readyz",
    responses={**ANY_REQUEST, 503: {"model": Readiness, "description": "Not ready."}},
)
async def readyz(request: Request, response: Response) -> Readiness:
    """200 when the broker and the database are reachable, 503 otherwise."""
    probe: ReadinessProbe = request.app.state.readiness
    readiness = await probe()
    if not readiness.ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return readiness
