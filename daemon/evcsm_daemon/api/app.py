"""The FastAPI application, with Swagger UI served from the daemon itself (no CDN)."""

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from evcsm_daemon.api import chargers, health, problems, seed, sessions
from evcsm_daemon.api.health import ReadinessProbe
from evcsm_daemon.service import ChargingService

SWAGGER_UI = "/swagger/index.html"
OPENAPI_JSON = "/swagger/v1/swagger.json"


def create_app(
    service: ChargingService, readiness: ReadinessProbe, api_token: str | None = None
) -> FastAPI:
    """The REST API over `service`; `api_token`, when set, guards mutating calls."""
    app = FastAPIOffline(
        title="EVCSM",
        summary="EV charging session management",
        version="0.1.0",
        docs_url=SWAGGER_UI,
        redoc_url="/redoc",
        openapi_url=OPENAPI_JSON,
        static_url="/swagger/static",
    )
    app.state.service = service
    app.state.readiness = readiness
    app.state.api_token = api_token
    problems.install(app)
    for module in (seed, chargers, sessions, health):
        app.include_router(module.router)
    return app
