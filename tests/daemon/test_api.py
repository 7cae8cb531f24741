"""The REST API in-process: seed routes, chargers, sessions, problem details, token, Swagger."""

import re
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from evcsm_daemon.api import create_app
from evcsm_daemon.api.access import AccessPolicy, default_hosts, parse_hosts, parse_origins
from evcsm_daemon.api.health import ReadinessProbe
from evcsm_daemon.service import ChargingService
from evcsm_daemon.store import open_store
from evcsm_schema import Readiness, SessionQuery

from tests.support.clock import FakeClock
from tests.support.queries import BAD_QUERIES, BadQuery
from tests.support.service import fleet

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SEED = "/api/ChargingSessionAPI"
BASE = "http://127.0.0.1:5274"


async def not_ready() -> Readiness:
    return Readiness(ready=False, broker=False, database=True)


async def ready() -> Readiness:
    return Readiness(ready=True, broker=True, database=True)


async def build(
    clock: FakeClock,
    token: str | None = None,
    probe: ReadinessProbe = ready,
    policy: AccessPolicy | None = None,
    base_url: str = BASE,
) -> tuple[httpx.AsyncClient, ChargingService]:
    store = open_store("memory")
    await store.ensure_indexes()
    service = ChargingService(store, fleet(("CP1", 22.0), ("CP2", 11.0)), clock=clock)
    await service.resume()
    app = create_app(service, probe, policy or AccessPolicy.build("127.0.0.1", token=token))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)
    return client, service


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def api(clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    client, _ = await build(clock)
    async with client:
        yield client


async def test_seed_flow(api: httpx.AsyncClient, clock: FakeClock) -> None:
    missing = await api.get(f"{SEED}/status")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["code"] == "not_found"

    started = await api.post(f"{SEED}/start")
    assert started.status_code == 200
    body = started.json()
    assert body["status"] == "Charging"
    assert body["chargerId"] == "CP1"
    assert body["energyConsumed"] == 0.0
    assert "endTime" not in body
    assert set(body) >= {"sessionId", "startTime", "status", "energyConsumed"}

    again = await api.post(f"{SEED}/start")
    assert again.status_code == 200
    assert again.json()["sessionId"] == body["sessionId"]

    clock.advance(120)
    stopped = await api.post(f"{SEED}/stop")
    assert stopped.status_code == 200
    final = stopped.json()
    assert final["status"] == "Stopped"
    assert final["energyConsumed"] == 0.733
    assert final["endTime"] == "2026-01-15T08:02:00Z"

    status = await api.get(f"{SEED}/status")
    assert status.json() == final

    none = await api.post(f"{SEED}/stop")
    assert none.status_code == 404
    problem = none.json()
    assert problem == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "no active session on charger 'CP1'",
        "instance": f"{SEED}/stop",
        "code": "no_active_session",
    }


async def test_chargers_and_sessions(api: httpx.AsyncClient, clock: FakeClock) -> None:
    listing = await api.get("/api/chargers")
    assert [(c["chargerId"], c["status"], c["maxPowerKw"]) for c in listing.json()] == [
        ("CP1", "Idle", 22.0),
        ("CP2", "Idle", 11.0),
    ]
    created = await api.post("/api/chargers/CP2/start")
    assert created.status_code == 201
    existing = await api.post("/api/chargers/CP2/start")
    assert existing.status_code == 200
    assert existing.json()["sessionId"] == created.json()["sessionId"]
    state = (await api.get("/api/chargers/CP2")).json()
    assert state["status"] == "Charging"
    assert state["session"]["sessionId"] == created.json()["sessionId"]

    clock.advance(3600)
    stopped = await api.post("/api/chargers/CP2/stop", json={"reason": "Fleet car left"})
    assert stopped.status_code == 200
    assert stopped.json()["stopReason"] == "Fleet car left"
    assert stopped.json()["energyConsumed"] == 11.0

    await api.post("/api/chargers/CP1/start")
    page = (await api.get("/api/sessions", params={"limit": 1})).json()
    assert page["total"] == 2
    assert page["limit"] == 1
    assert [s["chargerId"] for s in page["items"]] == ["CP1"]
    only_stopped = (await api.get("/api/sessions", params={"status": "Stopped"})).json()
    assert [s["chargerId"] for s in only_stopped["items"]] == ["CP2"]
    by_charger = (await api.get("/api/sessions", params={"chargerId": "CP1"})).json()
    assert by_charger["total"] == 1
    window = (
        await api.get(
            "/api/sessions",
            params={"since": "2026-01-15T08:30:00Z", "until": "2026-01-15T10:00:00Z"},
        )
    ).json()
    assert [s["chargerId"] for s in window["items"]] == ["CP1"]

    session_id = stopped.json()["sessionId"]
    one = await api.get(f"/api/sessions/{session_id}")
    assert one.json() == stopped.json()
    unknown = await api.get("/api/sessions/not-a-session")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("post", "/api/chargers/CP9/start", {}, 404, "unknown_charger"),
        ("post", "/api/chargers/CP9/stop", {}, 404, "unknown_charger"),
        ("get", "/api/chargers/CP9", {}, 404, "unknown_charger"),
        ("post", "/api/chargers/CP1/stop", {}, 404, "no_active_session"),
        ("post", "/api/chargers/bad%2Fid/start", {}, 404, "not_found"),
        ("post", "/api/chargers/x%23y/start", {}, 422, "bad_request"),
        (
            "post",
            "/api/chargers/CP1/stop",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            422,
            "bad_request",
        ),
        ("post", "/api/chargers/CP1/stop", {"json": {"reason": 42}}, 422, "bad_request"),
        ("get", "/api/sessions", {"params": {"limit": 0}}, 422, "bad_request"),
        ("get", "/api/sessions", {"params": {"limit": "many"}}, 422, "bad_request"),
        ("get", "/api/sessions", {"params": {"status": "Paused"}}, 422, "bad_request"),
        ("get", "/api/sessions", {"params": {"since": "yesterday"}}, 422, "bad_request"),
        ("get", "/api/sessions", {"params": {"since": "2026-01-01T00:00:00"}}, 422, "bad_request"),
        ("get", "/api/nothing-here", {}, 404, "not_found"),
        ("delete", f"{SEED}/start", {}, 405, "bad_request"),
    ],
)
async def test_bad_requests_are_problems_and_write_nothing(
    clock: FakeClock, method: str, path: str, kwargs: dict[str, object], status: int, code: str
) -> None:
    client, service = await build(clock)
    async with client:
        response = await getattr(client, method)(path, **kwargs)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["detail"]
    assert (await service.store.query(SessionQuery())).total == 0


@pytest.mark.parametrize("bad", BAD_QUERIES, ids=lambda bad: f"{bad.field}={bad.text[:24]}")
async def test_bad_session_filters_are_problems(api: httpx.AsyncClient, bad: BadQuery) -> None:
    response = await api.get("/api/sessions", params={bad.field: bad.text})
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "bad_request"
    assert problem["detail"].startswith(f"query.{bad.field}: ")
    assert bad.why in problem["detail"]


async def test_session_filters_in_range_are_answered(api: httpx.AsyncClient) -> None:
    await api.post("/api/chargers/CP1/start")
    params = {"since": "2026-01-15T09:00:00+01:00", "until": "9998-12-31T23:59:59Z"}
    page = await api.get("/api/sessions", params={**params, "limit": "1000", "offset": "0"})
    assert page.status_code == 200
    assert page.json()["total"] == 1
    deep = await api.get("/api/sessions", params={"offset": "100000"})
    assert deep.json()["items"] == []
    reversed_range = {"since": "2026-01-16T00:00:00Z", "until": "2026-01-15T00:00:00Z"}
    empty = await api.get("/api/sessions", params=reversed_range)
    assert empty.status_code == 200
    assert empty.json()["total"] == 0


async def test_method_not_allowed_keeps_its_allow_header(api: httpx.AsyncClient) -> None:
    response = await api.delete(f"{SEED}/start")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["code"] == "bad_request"
    listing = await api.put("/api/sessions")
    assert listing.status_code == 405
    assert listing.headers["allow"] == "GET"


async def test_token_guards_mutating_calls_only(clock: FakeClock) -> None:
    client, service = await build(clock, token=TOKEN)
    async with client:
        for path in (
            f"{SEED}/start",
            f"{SEED}/stop",
            "/api/chargers/CP1/start",
            "/api/chargers/CP1/stop",
        ):
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                refused = await client.post(path, headers=headers)
                assert refused.status_code == 401, (path, headers)
                assert refused.json()["code"] == "unauthorized"
                assert refused.headers["www-authenticate"] == "Bearer"
        assert (await service.store.query(SessionQuery())).total == 0
        assert (await client.post(f"{SEED}/start", headers=AUTH)).status_code == 200
        assert (await client.post("/api/chargers/CP2/start", headers=AUTH)).status_code == 201
        assert (await client.post("/api/chargers/CP2/stop", headers=AUTH)).status_code == 200
        for path in (f"{SEED}/status", "/api/chargers", "/api/sessions", "/healthz", "/readyz"):
            assert (await client.get(path)).status_code == 200, path


async def test_health_and_readiness(clock: FakeClock) -> None:
    client, _ = await build(clock, probe=not_ready)
    async with client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"ready": False, "broker": False, "database": True}


async def test_swagger_ui_is_served_offline(api: httpx.AsyncClient) -> None:
    page = await api.get("/swagger/index.html")
    assert page.status_code == 200
    assert "/swagger/static/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    bundle = await api.get("/swagger/static/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert len(bundle.content) > 500_000
    assert (await api.get("/swagger/static/swagger-ui.css")).status_code == 200
    spec = (await api.get("/swagger/v1/swagger.json")).json()
    assert {f"{SEED}/start", f"{SEED}/stop", f"{SEED}/status", "/api/sessions"} <= set(
        spec["paths"]
    )
    assert "bearer" in str(spec["components"]["securitySchemes"]).lower()
    stop = spec["paths"]["/api/chargers/{charger_id}/stop"]["post"]["responses"]
    assert {"400", "401", "403", "404", "408", "413", "422", "503"} <= set(stop)
    assert stop["413"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }


async def test_operation_ids_are_the_routes_names(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/swagger/v1/swagger.json")).json()
    ids = {
        (method, path): operation["operationId"]
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    }
    assert ids[("post", "/api/chargers/{charger_id}/stop")] == "stopCharger"
    assert ids[("post", f"{SEED}/start")] == "seedStart"
    assert ids[("get", "/api/sessions")] == "listSessions"
    assert ids[("get", "/healthz")] == "healthz"
    assert len(set(ids.values())) == len(ids)
    assert all(re.fullmatch(r"[a-z][A-Za-z]*", value) for value in ids.values()), ids


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:5274", True),
        ("[::1]:5274", True),
        ("10.1.2.3", True),
        ("localhost:5274", True),
        ("LOCALHOST.", True),
        ("evil.example:5274", False),
        ("127.0.0.1.nip.io:5274", False),
        ("bad host", False),
        ("[::1", False),
    ],
)
async def test_unknown_hosts_are_refused_on_a_loopback_bind(
    clock: FakeClock, host: str, allowed: bool
) -> None:
    client, _ = await build(clock, policy=AccessPolicy.build("127.0.0.1"))
    async with client:
        response = await client.get("/api/chargers", headers={"Host": host})
    if allowed:
        assert response.status_code == 200
    else:
        assert response.status_code == 400
        assert response.json()["code"] == "bad_request"
        assert (
            "EVCSM_ALLOWED_HOSTS" in response.json()["detail"]
            or "malformed" in (response.json()["detail"])
        )


async def test_allowed_hosts_add_names_and_domains(clock: FakeClock) -> None:
    policy = AccessPolicy.build(
        "0.0.0.0", allowed_hosts=parse_hosts("evcsm.site.lan, *.example.com")
    )
    client, _ = await build(clock, policy=policy)
    async with client:
        for host, status in [
            ("evcsm.site.lan:5274", 200),
            ("ops.example.com", 200),
            ("a.b.example.com", 200),
            ("example.com", 400),
            ("evcsm.site.lan.evil.example", 400),
            ("192.168.1.20:5274", 200),
        ]:
            response = await client.get("/api/chargers", headers={"Host": host})
            assert response.status_code == status, host
    anything = AccessPolicy.build("127.0.0.1", allowed_hosts=parse_hosts("*"))
    client, _ = await build(clock, policy=anything)
    async with client:
        assert (await client.get("/healthz", headers={"Host": "whatever"})).status_code == 200


def test_default_hosts_follow_the_listen_address() -> None:
    assert default_hosts("127.0.0.1") == ()
    assert default_hosts("::1") == ()
    assert default_hosts("localhost") == ()
    assert default_hosts("evcsm.site.lan") == ("evcsm.site.lan",)
    assert default_hosts("0.0.0.0") == (socket.gethostname().lower(),)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example", "Content-Type": "text/plain"},
        {"Origin": "http://127.0.0.1:8080"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
async def test_cross_origin_writes_are_refused_and_change_nothing(
    clock: FakeClock, headers: dict[str, str]
) -> None:
    client, service = await build(clock, policy=AccessPolicy.build("127.0.0.1"))
    async with client:
        for path in (f"{SEED}/start", "/api/chargers/CP1/start"):
            response = await client.post(path, headers=headers, content=b"x")
            assert response.status_code == 403, path
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["code"] == "forbidden"
        reads = await client.get("/api/chargers", headers=headers)
        assert reads.status_code == 200
    assert (await service.store.query(SessionQuery())).total == 0


async def test_the_swagger_ui_writes_from_its_own_origin(clock: FakeClock) -> None:
    client, _ = await build(clock, policy=AccessPolicy.build("127.0.0.1", token=TOKEN))
    browser = {"Origin": BASE, "Sec-Fetch-Site": "same-origin", **AUTH}
    async with client:
        page = await client.get("/swagger/index.html", headers={"Sec-Fetch-Site": "none"})
        assert page.status_code == 200
        started = await client.post("/api/chargers/CP1/start", headers=browser)
        assert started.status_code == 201
        stopped = await client.post(
            "/api/chargers/CP1/stop", headers=browser, json={"reason": "from Swagger"}
        )
        assert stopped.json()["stopReason"] == "from Swagger"
    client, _ = await build(
        clock, policy=AccessPolicy.build("127.0.0.1"), base_url="http://localhost"
    )
    async with client:
        own = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
        assert (await client.post(f"{SEED}/start", headers=own)).status_code == 200


async def test_allowed_origins_may_write_and_get_cors_headers(clock: FakeClock) -> None:
    policy = AccessPolicy.build(
        "127.0.0.1", allowed_origins=parse_origins("https://ops.example.com")
    )
    client, _ = await build(clock, policy=policy)
    origin = {"Origin": "https://ops.example.com"}
    async with client:
        preflight = await client.options(
            "/api/chargers/CP1/start",
            headers={
                **origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://ops.example.com"
        started = await client.post("/api/chargers/CP1/start", headers=origin)
        assert started.status_code == 201
        assert started.headers["access-control-allow-origin"] == "https://ops.example.com"
        other = await client.post(
            "/api/chargers/CP2/start", headers={"Origin": "https://x.example"}
        )
        assert other.status_code == 403


async def test_the_token_is_checked_before_the_body_is_read(clock: FakeClock) -> None:
    client, service = await build(clock, token=TOKEN)
    async with client:
        response = await client.post(
            "/api/chargers/CP1/stop",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 401
    assert (await service.store.query(SessionQuery())).total == 0
