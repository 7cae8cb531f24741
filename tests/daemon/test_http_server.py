"""The REST server on a real socket: body caps, deadlines and the connection cap hold.

Each test runs the daemon's HTTP server in-process on a free port, with short deadlines, and
talks raw HTTP/1.1 to it through asyncio streams. Nothing waits on a timer to assert speed: a
test waits (with a generous deadline) for what the server must do, such as closing a socket.
"""

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

import pytest
from evcsm_daemon.api import create_app
from evcsm_daemon.api.access import AccessPolicy
from evcsm_daemon.api.health import ReadinessProbe
from evcsm_daemon.api.limits import HttpLimits
from evcsm_daemon.api.server import HttpServer
from evcsm_daemon.chargers import ChargerSpec, SimulatedCharger, SimulatedFleet
from evcsm_daemon.config import Address
from evcsm_daemon.core.profile import ChargeProfile
from evcsm_daemon.runtime import listen
from evcsm_daemon.service import ChargingService
from evcsm_daemon.store import open_store
from evcsm_schema import Readiness, SessionQuery

TOKEN = "test-token-0123456789"
DEADLINE_S = 30.0
SHORT = HttpLimits(
    max_connections=5,
    header_timeout=0.5,
    body_timeout=0.5,
    send_timeout=0.5,
    keep_alive=1,
    shutdown_grace=1,
)


async def ready() -> Readiness:
    return Readiness(ready=True, broker=True, database=True)


@dataclass
class Running:
    """A server on 127.0.0.1:port and the service behind it."""

    port: int
    server: HttpServer
    service: ChargingService

    async def connect(self, *, receive_buffer: int | None = None) -> "Client":
        sock = socket.socket()
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", self.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        return Client(reader, writer)

    async def open_connections(self) -> int:
        """How many connections the server holds that are not closing."""
        return sum(1 for c in self.server.server_state.connections if not c.transport.is_closing())


@dataclass
class Client:
    """One raw HTTP/1.1 connection."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send_many(self, data: bytes, times: int) -> None:
        for _ in range(times):
            await self.send(data)

    async def response(self) -> tuple[int, dict[str, str], bytes]:
        """Status, headers (lower-case names) and body of the next response."""
        async with asyncio.timeout(DEADLINE_S):
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return status, headers, body

    async def closed_by_server(self) -> bool:
        """Wait until the server closes the connection (EOF or reset); False if it never does."""
        try:
            async with asyncio.timeout(DEADLINE_S):
                while await self.reader.read(65536):
                    pass
        except TimeoutError:
            return False
        except ConnectionError:
            return True
        return True

    def close(self) -> None:
        self.writer.close()


@asynccontextmanager
async def running_server(
    limits: HttpLimits = SHORT, probe: ReadinessProbe = ready, token: str | None = TOKEN
) -> AsyncIterator[Running]:
    store = open_store("memory")
    await store.ensure_indexes()
    chargers = SimulatedFleet(
        [SimulatedCharger(ChargerSpec("CP1", 22.0), profile=ChargeProfile(22.0))]
    )
    service = ChargingService(store, chargers)
    await service.resume()
    app = create_app(service, probe, AccessPolicy.build("127.0.0.1", token=token), limits)
    server = HttpServer(app, limits)
    sock = listen(Address("127.0.0.1", 0))
    task = asyncio.create_task(server.serve(sockets=[sock]), name="test-http")
    await wait_for(lambda: _true(server.started))
    try:
        yield Running(sock.getsockname()[1], server, service)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, DEADLINE_S)
        sock.close()


def post(
    path: str, *, length: int | None = None, token: bool = True, chunked: bool = False
) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    if token:
        head.append(f"Authorization: Bearer {TOKEN}")
    if chunked:
        head.append("Transfer-Encoding: chunked")
    if length is not None:
        head.append(f"Content-Length: {length}")
    return ("\r\n".join(head) + "\r\n\r\n").encode()


GET_HEALTH = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
STOP = "/api/chargers/CP1/stop"


async def wait_for(condition: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(int(DEADLINE_S / 0.02)):
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"still not true after {DEADLINE_S:.0f} s")


@pytest.mark.parametrize("token", [False, True], ids=["no-token", "token"])
async def test_an_oversized_body_is_refused_before_it_is_read(token: bool) -> None:
    async with running_server() as running:
        client = await running.connect()
        await client.send(post(STOP, length=300_000_000, token=token))
        status, headers, body = await client.response()
        assert status == (413 if token else 401)
        assert headers["content-type"] == "application/problem+json"
        assert (b"payload_too_large" if token else b"unauthorized") in body
        assert await client.closed_by_server()


async def test_the_token_is_checked_before_the_body() -> None:
    async with running_server() as running:
        client = await running.connect()
        await client.send(post(STOP, length=9, token=False) + b"{not json")
        status, _, body = await client.response()
        assert status == 401
        assert b"unauthorized" in body


async def test_a_chunked_body_is_cut_off_past_the_limit() -> None:
    async with running_server() as running:
        client = await running.connect()
        await client.send(post(STOP, chunked=True))
        chunk = b"%x\r\n%s\r\n" % (16384, b"x" * 16384)
        for _ in range(8):  # 128 KiB: twice the limit
            await client.send(chunk)
        status, _, body = await client.response()
        assert status == 413
        assert b"65536 byte limit" in body
        # The rest is drained up to max_drain, then the connection is dropped.
        with pytest.raises(ConnectionError):
            await client.send_many(chunk, 2000)  # 32 MB if nothing stopped it
        assert (await running.service.store.query(SessionQuery())).total == 0


async def test_a_body_within_the_limit_still_works() -> None:
    async with running_server() as running:
        await running.service.start("CP1")
        client = await running.connect()
        reason = b'{"reason": "' + b"r" * 150 + b'"}'
        await client.send(post(STOP, length=len(reason)) + reason)
        status, _, body = await client.response()
        assert status == 200
        assert b"r" * 150 in body


async def test_a_slow_body_gets_408() -> None:
    async with running_server() as running:
        client = await running.connect()
        await client.send(post(STOP, length=40) + b'{"rea')
        status, headers, body = await client.response()
        assert status == 408
        assert headers["connection"] == "close"
        assert b"not received within 0.5 s" in body
        assert await client.closed_by_server()


async def test_a_request_head_that_never_ends_is_dropped() -> None:
    async with running_server() as running:
        client = await running.connect()
        await client.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert await client.closed_by_server()
        assert running.server.stats.header_timeouts == 1


async def test_a_head_dribbled_after_a_response_is_dropped_too() -> None:
    async with running_server() as running:
        client = await running.connect()
        await client.send(GET_HEALTH)
        assert (await client.response())[0] == 200
        await client.send(b"GET /healthz HTTP/1.1\r\n")  # cancels uvicorn's keep-alive timer
        for _ in range(3):
            await asyncio.sleep(0.2)
            await client.send(b"X-Slow: 1\r\n")
        assert await client.closed_by_server()
        assert running.server.stats.header_timeouts == 1


async def test_an_idle_keep_alive_connection_is_closed() -> None:
    async with running_server() as running:
        client = await running.connect()
        await client.send(GET_HEALTH)
        assert (await client.response())[0] == 200
        assert await client.closed_by_server()


@pytest.mark.parametrize(("complete", "status"), [(True, 431), (False, 400)])
async def test_a_request_head_over_the_limit_is_refused(complete: bool, status: int) -> None:
    async with running_server() as running:
        client = await running.connect()
        huge = b"X-Big: " + b"a" * (SHORT.max_header + 1024) + b"\r\n"
        head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + huge
        await client.send(head + b"\r\n" if complete else head)
        assert (await client.response())[0] == status
        if not complete:
            assert await client.closed_by_server()


async def test_past_the_cap_the_longest_waiting_connection_makes_room() -> None:
    async with running_server() as running:
        idle = []
        for _ in range(SHORT.max_connections):
            client = await running.connect()
            await client.send(b"GET /healthz HTTP/1.1\r\n")
            idle.append(client)
        await wait_for(lambda: _equals(running.open_connections(), SHORT.max_connections))
        newcomer = await running.connect()
        await newcomer.send(GET_HEALTH)
        assert (await newcomer.response())[0] == 200
        assert await idle[0].closed_by_server()
        assert running.server.stats.evicted == 1
        assert await running.open_connections() <= SHORT.max_connections


async def test_when_every_connection_is_served_a_new_one_is_refused() -> None:
    release = asyncio.Event()

    async def slow_probe() -> Readiness:
        await release.wait()
        return await ready()

    async with running_server(probe=slow_probe) as running:
        busy = []
        for _ in range(SHORT.max_connections):
            client = await running.connect()
            await client.send(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            busy.append(client)
        await wait_for(lambda: _equals(_tasks(running), SHORT.max_connections))
        refused = await running.connect()
        assert await refused.closed_by_server()
        assert running.server.stats.refused == 1
        release.set()
        for client in busy:
            assert (await client.response())[0] == 200


async def test_a_client_that_stops_reading_is_dropped() -> None:
    async with running_server() as running:
        client = await running.connect(receive_buffer=4096)
        bundle = b"GET /swagger/static/swagger-ui-bundle.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        await client.send(bundle * 8)  # 12 MB of answers: more than the socket buffers hold
        await wait_for(lambda: _at_least(running.server.stats, "send_timeouts", 1))
        await wait_for(lambda: _equals(running.open_connections(), 0))
        client.close()


async def test_shutdown_does_not_wait_for_a_stuck_request() -> None:
    async with running_server(replace(SHORT, body_timeout=600)) as running:
        client = await running.connect()
        await client.send(post(STOP, length=40) + b"{")
        await wait_for(lambda: _equals(_tasks(running), 1))
    # Leaving the block awaited the server's shutdown: the stuck request did not hold it.
    assert await client.closed_by_server()


async def _true(value: bool) -> bool:
    return value


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def _tasks(running: Running) -> int:
    return len(running.server.server_state.tasks)


async def _at_least(stats: object, name: str, expected: int) -> bool:
    return int(getattr(stats, name)) >= expected


async def test_accepted_connections_send_without_waiting_for_acks() -> None:
    """Nagle is off on the daemon's accepted sockets: a response after the first on a kept-alive
    connection is not held back until the client acknowledges the one before."""
    sock = listen(Address("127.0.0.1", 0))
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            peer = transport.get_extra_info("socket")
            accepted.set_result(peer.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", sock.getsockname()[1])
        assert await asyncio.wait_for(accepted, DEADLINE_S) != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
