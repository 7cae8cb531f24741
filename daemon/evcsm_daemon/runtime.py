"""The daemon assembled: REST server, store, chargers, service, MQTT bridge and ticker.

`Daemon.run()` goes through three phases, and setting `stop` ends any of them:

1. It listens and serves HTTP at once: `/healthz` answers 200, `/readyz` 503, and every route
   that needs the database 503 `unavailable`.
2. It connects to the store, retrying with backoff (one line per attempt), and resumes the
   stored sessions. A stop here abandons the attempt.
3. It runs the MQTT bridge and the ticker until `stop` is set, then shuts down in order within
   `SHUTDOWN_S`: the HTTP server stops accepting and finishes its requests, the tick in
   progress finishes and the last readings are stored, `offline` is published, and the store
   closes.

Cancelling `run()` instead is an abrupt stop, as a crash would be; nothing is lost either way,
because every session lives in the store and its meter is derived from time.
"""

import asyncio
import logging
import socket
import ssl
from collections.abc import Coroutine
from typing import Any, TypeVar

from evcsm_link.backoff import Retries
from evcsm_schema import Readiness
from fastapi import FastAPI

from evcsm_daemon import heap
from evcsm_daemon.api import attach, create_app, warm_up
from evcsm_daemon.api.access import AccessPolicy
from evcsm_daemon.api.limits import HttpLimits
from evcsm_daemon.api.server import HttpServer
from evcsm_daemon.chargers import SimulatedCharger, SimulatedFleet
from evcsm_daemon.chargers.ocpp import CentralSystem, OcppConfig
from evcsm_daemon.config import Address, Settings
from evcsm_daemon.core.profile import ChargeProfile
from evcsm_daemon.errors import StoreUnavailable
from evcsm_daemon.mqtt import MqttBridge
from evcsm_daemon.operations import StationOperations
from evcsm_daemon.service import ChargingService
from evcsm_daemon.store import SessionStore, open_store, redact_uri
from evcsm_daemon.ticker import Ticker

log = logging.getLogger(__name__)

T = TypeVar("T")

PROBE_TIMEOUT_S = 2.0
SHUTDOWN_S = 7.0
"""The tick, the last flush and `offline` get this long together, so SIGTERM ends the
process within 10 s; the HTTP server winds down meanwhile (`HttpLimits.shutdown_grace`)."""
STORE_CLOSE_S = 1.0
OCPP_CLOSE_S = 3.0
"""Part of SHUTDOWN_S: stations are told the central system goes away (1001)."""


def build_chargers(settings: Settings) -> SimulatedFleet:
    """The configured fleet of simulated chargers."""
    return SimulatedFleet(
        [
            SimulatedCharger(
                spec,
                profile=ChargeProfile(
                    max_power_kw=spec.max_power_kw,
                    capacity_kwh=settings.battery_kwh,
                    initial_soc=settings.initial_soc,
                    taper_soc=settings.taper_soc,
                ),
                speed=settings.sim_speed,
            )
            for spec in settings.chargers
        ]
    )


def access_policy(settings: Settings) -> AccessPolicy:
    """Who may call the REST API, from the settings."""
    token = settings.api_token.get_secret_value() if settings.api_token else None
    return AccessPolicy.build(
        settings.http_addr.host,
        allowed_hosts=settings.allowed_hosts,
        allowed_origins=settings.allowed_origins,
        token=token,
    )


def ocpp_config(settings: Settings) -> OcppConfig | None:
    """The central system's settings, None without `ocpp_addr`; OSError when the certificate
    or its key cannot be loaded."""
    if settings.ocpp_addr is None:
        return None
    context: ssl.SSLContext | None = None
    if settings.ocpp_cert_file and settings.ocpp_key_file:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(settings.ocpp_cert_file, settings.ocpp_key_file)
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "reason", None) or exc.strerror or str(exc)
            raise OSError(
                f"cannot load the OCPP certificate {settings.ocpp_cert_file} with key "
                f"{settings.ocpp_key_file}: {reason}"
            ) from exc
    return OcppConfig(
        host=settings.ocpp_addr.host,
        port=settings.ocpp_addr.port,
        charge_points=settings.charge_points(),
        meter_interval_s=settings.ocpp_meter_interval,
        heartbeat_interval_s=settings.ocpp_heartbeat_interval,
        ssl_context=context,
    )


async def connect_store(uri: str, *, timeout_ms: int = 5000) -> SessionStore:
    """Open the store, retrying with backoff (one clear line per attempt) until it answers."""
    retries = Retries()
    while True:
        store = open_store(uri, timeout_ms=timeout_ms)
        try:
            await store.ensure_indexes()
        except StoreUnavailable as exc:
            await store.close()
            reason = exc.message.splitlines()[0][:160]
            delay = retries.failed()
            log.warning(
                "%s %s unreachable (%s); retrying in %.0f s",
                store.kind,
                redact_uri(uri),
                reason,
                delay,
            )
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            await _close(store)
            raise
        else:
            log.info("connected to %s %s", store.kind, redact_uri(uri))
            return store


def listen(addr: Address) -> socket.socket:
    """A listening socket on host:port (port 0 picks a free one).

    Made with protocol IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on
    sockets whose protocol says TCP, and with Nagle on, every response after the first on a
    kept-alive connection waited ~40 ms for the client's delayed ACK."""
    host, port = addr.host, addr.port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {addr}: {exc.strerror}") from exc
    sock.listen(128)
    sock.setblocking(False)  # noqa: FBT003 - the socket API takes a positional flag
    return sock


class Daemon:
    """One running daemon."""

    def __init__(self, settings: Settings, limits: HttpLimits | None = None) -> None:
        self.settings = settings
        self.limits = limits or HttpLimits(max_connections=settings.http_max_connections)
        self.ready = asyncio.Event()
        self.http_port = 0
        self.http: HttpServer | None = None
        self.store: SessionStore | None = None
        self.service: ChargingService | None = None
        self.bridge: MqttBridge | None = None
        self.ticker: Ticker | None = None
        self.central: CentralSystem | None = None
        self.operations: StationOperations | None = None
        self.ocpp_port = 0

    async def readiness(self) -> Readiness:
        """Whether the broker and the database answer now."""
        database = False
        if self.store is not None:
            try:
                async with asyncio.timeout(PROBE_TIMEOUT_S):
                    database = await self.store.ping()
            except TimeoutError:
                database = False
        broker = self.bridge is not None and self.bridge.connected.is_set()
        return Readiness(ready=broker and database, broker=broker, database=database)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until `stop` is set (gracefully) or the task is cancelled (abruptly)."""
        stop = stop or asyncio.Event()
        settings = self.settings
        ocpp = ocpp_config(settings)
        sock = listen(settings.http_addr)
        try:
            ocpp_sock = listen(settings.ocpp_addr) if ocpp and settings.ocpp_addr else None
        except OSError:
            sock.close()
            raise
        try:
            app = create_app(None, self.readiness, access_policy(settings), self.limits)
            await warm_up(app)
            server = self.http = HttpServer(app, self.limits)
            self.http_port = sock.getsockname()[1]
            log.info(
                "REST API on http://%s (Swagger UI at /swagger/index.html)", settings.http_addr
            )
            async with asyncio.TaskGroup() as group:
                group.create_task(server.serve(sockets=[sock]), name="http")
                try:
                    started = await _unless_stopped(stop, self._start(app, ocpp), "start")
                    if started:
                        if ocpp_sock is not None:
                            await self._listen_ocpp(ocpp_sock)
                        await self._serve(stop, server, group)
                finally:
                    server.should_exit = True
        finally:
            await self._close_ocpp()
            sock.close()
            if ocpp_sock is not None:
                ocpp_sock.close()
            if self.store is not None:
                await _close(self.store)
            log.info("stopped")

    async def _start(self, app: FastAPI, ocpp: OcppConfig | None) -> bool:
        """Reach the store and resume the sessions, retrying until both succeed."""
        retries = Retries()
        while True:
            store = self.store = await connect_store(self.settings.store_uri)
            service = ChargingService(
                store,
                build_chargers(self.settings),
                start_timeout_s=self.settings.start_timeout,
                default_charger=self.settings.default_charger_id(),
            )
            try:
                await service.resume()
            except StoreUnavailable as exc:
                self.store = None
                await _close(store)
                delay = retries.failed()
                log.warning(
                    "%s lost while resuming sessions (%s); reconnecting in %.0f s",
                    store.kind,
                    exc.message.splitlines()[0][:160],
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            self.service = service
            self.bridge = MqttBridge(
                self.settings.broker(),
                service,
                configured_id=self.settings.mqtt_client_id,
                session_updates=self.settings.session_updates,
                tick_interval=self.settings.tick_interval,
                state_refresh=self.settings.state_refresh,
                state_refresh_rate=self.settings.state_refresh_rate,
            )
            self.ticker = Ticker(service, self.settings.tick_interval)
            if ocpp is not None:
                self.central = CentralSystem(ocpp, service)
                service.attach_stations(self.central, ocpp.charge_points.passwords)
            self.operations = StationOperations(service, self.central)
            attach(app, service, self.operations)
            heap.settle()  # what is loaded by now lives as long as the process
            return True

    async def _listen_ocpp(self, sock: socket.socket) -> None:
        """Serve charge points on `sock`."""
        assert self.central is not None  # noqa: S101 - set by _start
        await self.central.start(sock)
        self.ocpp_port = self.central.port

    async def _serve(
        self, stop: asyncio.Event, server: HttpServer, group: asyncio.TaskGroup
    ) -> None:
        assert self.bridge is not None  # noqa: S101 - set by _start
        assert self.ticker is not None  # noqa: S101 - set by _start
        bridge = self.bridge
        ticks = group.create_task(self.ticker.run(stop), name="ticker")
        mqtt = group.create_task(bridge.run(), name="mqtt")
        self.ready.set()
        await stop.wait()
        log.info("shutting down")
        server.should_exit = True
        try:
            async with asyncio.timeout(SHUTDOWN_S):
                await self._close_ocpp()
                await ticks
                await bridge.shutdown()
        except TimeoutError:
            log.warning("shutdown took over %.0f s; stopping without waiting more", SHUTDOWN_S)
            ticks.cancel()
        mqtt.cancel()

    async def _close_ocpp(self) -> None:
        """Close every station's connection (1001), giving up after OCPP_CLOSE_S."""
        if self.central is None:
            return
        try:
            async with asyncio.timeout(OCPP_CLOSE_S):
                await self.central.close()
        except TimeoutError:
            log.warning("OCPP connections did not close within %.0f s", OCPP_CLOSE_S)


async def _unless_stopped(stop: asyncio.Event, work: Coroutine[Any, Any, T], name: str) -> T | None:
    """Run `work` to its end, or cancel it and return None as soon as `stop` is set."""
    task = asyncio.create_task(work, name=name)
    stopped = asyncio.create_task(stop.wait(), name=f"{name}: stop")
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, stopped):
            pending.cancel()
        await asyncio.gather(task, stopped, return_exceptions=True)
    if task.cancelled():
        return None
    return task.result()


async def _close(store: SessionStore) -> None:
    """Close the store, giving up after STORE_CLOSE_S."""
    try:
        async with asyncio.timeout(STORE_CLOSE_S):
            await store.close()
    except TimeoutError:
        log.warning("the MongoDB client did not close within %.0f s", STORE_CLOSE_S)
