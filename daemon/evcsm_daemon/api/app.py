"""The FastAPI application, with Swagger UI served from the daemon itself (no CDN).

The app answers from the moment the daemon listens: health and readiness at once, and every
route that needs the database with 503 `unavailable` until `attach()` hands it the service.
"""

from collections.abc import MutableMapping
from http import HTTPStatus
from typing import Any

import anyio.lowlevel
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from starlette.middleware.cors import CORSMiddleware

from evcsm_daemon.api import chargers, health, problems, requests, seed, sessions, stations
from evcsm_daemon.api.access import ANY, AccessPolicy
from evcsm_daemon.api.guard import RequestGuard
from evcsm_daemon.api.health import ReadinessProbe
from evcsm_daemon.api.limits import HttpLimits
from evcsm_daemon.api.responses import problems_as_problem_json
from evcsm_daemon.operations import StationOperations
from evcsm_daemon.service import ChargingService

SWAGGER_UI = "/swagger/index.html"
OPENAPI_JSON = "/swagger/v1/swagger.json"


def operation_id(route: APIRoute) -> str:
    """A route's OpenAPI operation id: its function's name in camelCase (`stopCharger`), not
    FastAPI's default of name, path and method run together."""
    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def create_app(
    service: ChargingService | None,
    readiness: ReadinessProbe,
    policy: AccessPolicy | None = None,
    limits: HttpLimits | None = None,
) -> FastAPI:
    """The REST API over `service` (None until the database is reached), behind its guard."""
    policy = policy or AccessPolicy()
    app = FastAPIOffline(
        title="EVCSM",
        summary="EV charging session management",
        version="0.1.0",
        docs_url=SWAGGER_UI,
        redoc_url="/redoc",
        openapi_url=OPENAPI_JSON,
        static_url="/swagger/static",
        generate_unique_id_function=operation_id,
    )
    app.state.service = service
    app.state.operations = StationOperations(service, None) if service else None
    app.state.readiness = readiness
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problems_as_problem_json(build_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend it
    problems.install(app)
    for module in (seed, chargers, requests, stations, sessions, health):
        app.include_router(module.router)
    if policy.origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=["*"] if ANY in policy.origins else list(policy.origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(RequestGuard, policy=policy, limits=limits or HttpLimits())
    return app


async def warm_up(app: FastAPI) -> None:
    """Answer one request (`GET /healthz`) in-process, before the first client's.

    FastAPI prepares the routes of an included router the first time a request is routed
    through it, and anyio imports its asyncio backend the first time it is used (Starlette
    uses it for some requests): 60-100 ms of CPU that the first client would otherwise wait
    for, with the event loop held meanwhile. The health router is included last, so routing to
    it prepares every router before it; the backend is loaded here.
    """
    await anyio.lowlevel.checkpoint()  # loads anyio's asyncio backend
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/healthz",
        "raw_path": b"/healthz",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 0),
    }
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next((m["status"] for m in sent if m["type"] == "http.response.start"), None)
    if status != HTTPStatus.OK:
        raise RuntimeError(f"the API's warm-up request was answered {status}")


def attach(
    app: FastAPI, service: ChargingService, operations: StationOperations | None = None
) -> None:
    """Serve `service` from now on: the database has been reached."""
    app.state.operations = operations or StationOperations(service, None)
    app.state.service = service
