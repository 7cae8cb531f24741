"""Dependencies shared by the routers: the service, and the bearer scheme of writes."""

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPBearer

from evcsm_daemon.errors import StoreUnavailable
from evcsm_daemon.operations import StationOperations
from evcsm_daemon.service import ChargingService

_bearer = HTTPBearer(auto_error=False, description="EVCSM_API_TOKEN, when the daemon sets one.")


async def get_service(request: Request) -> ChargingService:
    """The service, once the daemon has reached its database; 503 before that.

    `async`, as every dependency here: FastAPI runs a plain function in a worker thread, and a
    request would then wait for that thread to take the GIL from the event loop (a tick's
    slice at a time) and for the loop to hear back."""
    service: ChargingService | None = request.app.state.service
    if service is None:
        raise StoreUnavailable("the database has not been reached yet; try again shortly")
    return service


async def get_operations(request: Request) -> StationOperations:
    """The station commands, once the daemon has reached its database; 503 before that."""
    await get_service(request)
    operations: StationOperations = request.app.state.operations
    return operations


Service = Annotated[ChargingService, Depends(get_service)]
Operations = Annotated[StationOperations, Depends(get_operations)]
Guarded = [Security(_bearer)]
"""Marks a write in the OpenAPI description as needing the bearer token. The token itself is
checked by the ASGI guard (`api.guard`), before the request body is read."""
