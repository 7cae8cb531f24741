"""Dependencies shared by the routers: the service and the bearer-token guard."""

import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from evcsm_daemon.api.problems import Unauthorized
from evcsm_daemon.service import ChargingService

_bearer = HTTPBearer(auto_error=False, description="EVCSM_API_TOKEN, when the daemon sets one.")


def get_service(request: Request) -> ChargingService:
    """The service the app was created with."""
    service: ChargingService = request.app.state.service
    return service


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Refuse a mutating call without the configured bearer token (constant-time compare)."""
    expected: str | None = request.app.state.api_token
    if expected is None:
        return
    given = credentials.credentials if credentials is not None else ""
    if not secrets.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("a valid bearer token is required for this call")


Service = Annotated[ChargingService, Depends(get_service)]
Guarded = [Depends(require_token)]
