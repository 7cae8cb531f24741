"""The daemon assembled: store, chargers, service, MQTT bridge, REST server and ticker.

`Daemon.run()` runs them in one TaskGroup until `stop` is set, then shuts down in order: the
tick in progress finishes, `offline` is published, the HTTP server closes, the store closes.
Cancelling `run()` instead is an abrupt stop, as a crash would be; nothing is lost either way,
because every session lives in the store and its meter is derived from time.
"""

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn
from evcsm_schema import Readiness

from evcsm_daemon.api import create_app
from evcsm_daemon.chargers import SimulatedCharger, SimulatedFleet
from evcsm_daemon.config import Settings, split_addr
from evcsm_daemon.core.profile import ChargeProfile
from evcsm_daemon.errors import StoreUnavailable
from evcsm_daemon.mqtt import MqttBridge
from evcsm_daemon.service import ChargingService
from evcsm_daemon.store import SessionStore, open_store, redact_uri
from evcsm_daemon.ticker import Ticker

log = logging.getLogger(__name__)

STORE_RETRY_MAX_S = 30.0
PROBE_TIMEOUT_S = 2.0


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the daemon owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


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
            for spec in settings.fleet()
        ]
    )


async def connect_store(uri: str, *, timeout_ms: int = 5000) -> SessionStore:
    """Open the store, retrying with backoff (one clear line per attempt) until it answers."""
    delay = 1.0
    while True:
        store = open_store(uri, timeout_ms=timeout_ms)
        try:
            await store.ensure_indexes()
        except StoreUnavailable as exc:
            await store.close()
            reason = exc.message.splitlines()[0][:160]
            log.warning(
                "%s %s unreachable (%s); retrying in %.0f s",
                store.kind,
                redact_uri(uri),
                reason,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(STORE_RETRY_MAX_S, delay * 2)
        else:
            log.info("connected to %s %s", store.kind, redact_uri(uri))
            return store


def listen(addr: str) -> socket.socket:
    """A listening socket on host:port (port 0 picks a free one)."""
    host, port = split_addr(addr)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
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

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ready = asyncio.Event()
        self.http_port = 0
        self.service: ChargingService | None = None
        self.bridge: MqttBridge | None = None
        self.ticker: Ticker | None = None

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until `stop` is set (gracefully) or the task is cancelled (abruptly)."""
        stop = stop or asyncio.Event()
        settings = self.settings
        sock = listen(settings.http_addr)
        store = await connect_store(settings.mongodb_uri)
        try:
            service = ChargingService(
                store, build_chargers(settings), start_timeout_s=settings.start_timeout
            )
            await service.resume()
            bridge = MqttBridge(settings, service)
            ticker = Ticker(service, settings.tick_interval)
            self.service, self.bridge, self.ticker = service, bridge, ticker

            async def readiness() -> Readiness:
                try:
                    async with asyncio.timeout(PROBE_TIMEOUT_S):
                        database = await store.ping()
                except TimeoutError:
                    database = False
                broker = bridge.connected.is_set()
                return Readiness(ready=broker and database, broker=broker, database=database)

            token = settings.api_token.get_secret_value() if settings.api_token else None
            app = create_app(service, readiness, token)
            server = _Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
            self.http_port = sock.getsockname()[1]
            log.info(
                "REST API on http://%s (Swagger UI at /swagger/index.html)", settings.http_addr
            )
            async with asyncio.TaskGroup() as group:
                ticks = group.create_task(ticker.run(stop), name="ticker")
                mqtt = group.create_task(bridge.run(), name="mqtt")
                http = group.create_task(server.serve(sockets=[sock]), name="http")
                self.ready.set()
                await stop.wait()
                log.info("shutting down")
                await ticks
                await bridge.shutdown()
                mqtt.cancel()
                server.should_exit = True
                await http
        finally:
            sock.close()
            await store.close()
            log.info("stopped")
