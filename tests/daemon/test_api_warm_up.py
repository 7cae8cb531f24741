"""The API answers one request in-process before serving, so the first client's request does not
wait for FastAPI to prepare its routes."""

from typing import Any

import fastapi.dependencies.utils
import fastapi.routing
import httpx
import pytest
import starlette.concurrency
from evcsm_daemon.api import create_app, warm_up
from evcsm_daemon.api.access import AccessPolicy
from evcsm_schema import Readiness

from tests.support.clock import FakeClock
from tests.support.service import make_service


async def ready() -> Readiness:
    return Readiness(ready=True, broker=True, database=True)


async def test_after_the_warm_up_no_request_prepares_a_route(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = await make_service(FakeClock())
    app = create_app(service, ready, AccessPolicy.build("127.0.0.1"))
    prepared: list[str] = []
    populate = fastapi.routing._populate_api_route_state  # what the warm-up runs ahead

    def counting(route: Any, path: str, *args: Any, **kwargs: Any) -> None:
        prepared.append(path)
        populate(route, path, *args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "_populate_api_route_state", counting)
    await warm_up(app)
    assert "/api/chargers/{charger_id}/start" in prepared  # routers before health's, prepared
    prepared.clear()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        started = await client.post("/api/chargers/CP1/start")
        stopped = await client.post("/api/chargers/CP1/stop")
        listed = await client.get("/api/sessions", params={"limit": 5})
    assert [started.status_code, stopped.status_code, listed.status_code] == [201, 200, 200]
    assert prepared == []


async def test_no_request_runs_on_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """FastAPI runs a plain-function dependency or endpoint in anyio's thread pool: a request
    then waits for a worker thread to take the GIL from the busy event loop. None does here."""
    service = await make_service(FakeClock())
    app = create_app(service, ready, AccessPolicy.build("127.0.0.1"))
    await warm_up(app)
    threaded: list[str] = []
    hop = starlette.concurrency.run_in_threadpool  # what FastAPI imports and calls

    async def counting(func: Any, *args: Any, **kwargs: Any) -> Any:
        threaded.append(getattr(func, "__name__", repr(func)))
        return await hop(func, *args, **kwargs)

    monkeypatch.setattr(fastapi.dependencies.utils, "run_in_threadpool", counting)
    monkeypatch.setattr(fastapi.routing, "run_in_threadpool", counting)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        started = await client.post("/api/chargers/CP1/start")
        stopped = await client.post("/api/chargers/CP1/stop")
        listed = await client.get("/api/sessions", params={"limit": 5})
        charger = await client.get("/api/chargers/CP1")
        seed = await client.get("/api/ChargingSessionAPI/status")
    codes = [r.status_code for r in (started, stopped, listed, charger, seed)]
    assert codes == [201, 200, 200, 200, 200]
    assert threaded == []


async def test_a_warm_up_that_is_not_answered_ok_is_an_error() -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 500, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with pytest.raises(RuntimeError, match="answered 500"):
        await warm_up(broken)  # type: ignore[arg-type]  # any ASGI app
