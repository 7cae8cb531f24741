"""The OCPP 1.6J central system: a WebSocket listener, one `StationLink` per charge point.

    async with CentralSystem(config, sink) as central:
        ...                      # stations connect; central.request_start(...) etc.
    # leaving closes every connection with 1001 and waits for their tasks

A station that connects again while its old connection is still open takes over: the old one
is closed and torn down (its `StationDisconnected` handed to the sink) before the new one is
served, so the sink never sees a station twice at once.
"""

import asyncio
import logging
import socket
from http import HTTPStatus
from types import TracebackType
from typing import Self

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from evcsm_daemon.chargers.ocpp.commands import StationCommands
from evcsm_daemon.chargers.ocpp.config import Admission, OcppConfig
from evcsm_daemon.chargers.ocpp.handshake import SUBPROTOCOL, Admitted, Refused, check, identity_of
from evcsm_daemon.chargers.ocpp.station import StationLink, peer
from evcsm_daemon.core.events import EventSink

log = logging.getLogger(__name__)

transport_log = logging.getLogger(f"{__name__}.websockets")
transport_log.setLevel(logging.WARNING)  # a line per connection opened and closed otherwise


class CentralSystem(StationCommands):
    """Charge points connect here; the service commands them through the `ChargerCommands`."""

    def __init__(self, config: OcppConfig, sink: EventSink) -> None:
        self.config = config
        self._sink = sink
        self._server: Server | None = None
        self._stations: dict[str, StationLink] = {}
        self._connections = 0

    @property
    def port(self) -> int:
        """The port listened on (the chosen one when the config says 0)."""
        if self._server is None:
            raise RuntimeError("the central system is not listening")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def connected(self) -> frozenset[str]:
        """Identities of the admitted stations connected now."""
        return frozenset(self._stations)

    def _station(self, station_id: str) -> StationLink | None:
        return self._stations.get(station_id)

    async def start(self, sock: socket.socket | None = None) -> None:
        """Listen on the configured address, or on `sock` (bound and listening already)."""
        config = self.config
        self._server = await serve(
            self._serve_connection,
            None if sock else config.host,
            None if sock else config.port,
            sock=sock,
            ssl=config.ssl_context,
            subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]  # Subprotocol is a NewType of str
            process_request=self._admit,
            open_timeout=config.handshake_timeout_s,
            ping_interval=config.ping_interval_s,
            ping_timeout=config.ping_timeout_s,
            max_size=config.max_frame_bytes,
            server_header="EVCSM",
            logger=transport_log,
        )
        scheme = "wss" if config.ssl_context else "ws"
        log.info(
            "OCPP 1.6J central system on %s://%s:%d/ocpp/{chargePointId}",
            scheme,
            config.host,
            self.port,
        )

    async def close(self) -> None:
        """Close every connection with 1001 and wait until each is torn down."""
        if self._server is None:
            return
        self._server.close(close_connections=True, code=CloseCode.GOING_AWAY)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        verdict = check(request.path, request.headers, self.config.charge_points)
        if isinstance(verdict, Admitted):
            if self._connections < self.config.max_connections:
                return None
            verdict = Refused(HTTPStatus.SERVICE_UNAVAILABLE, "too many connections")
        log.warning(
            "refused OCPP connection from %s to %r: %s",
            peer(connection),
            request.path[:120],
            verdict.reason,
        )
        response = connection.respond(verdict.status, f"{verdict.reason}\n")
        if verdict.challenge:
            response.headers["WWW-Authenticate"] = verdict.www_authenticate
        return response

    async def _serve_connection(self, ws: ServerConnection) -> None:
        identity = identity_of(ws.request.path) if ws.request else None
        if identity is None:  # _admit let nothing else through
            return
        task = asyncio.current_task()
        if task is not None:
            task.set_name(f"ocpp-{identity}")
        if self._connections >= self.config.max_connections:
            await ws.close(CloseCode.TRY_AGAIN_LATER, "too many connections")
            return
        self._connections += 1
        try:
            await self._serve_station(ws, identity)
        finally:
            self._connections -= 1

    async def _serve_station(self, ws: ServerConnection, identity: str) -> None:
        known = self.config.charge_points.admission(identity) is not Admission.UNKNOWN
        link = StationLink(ws, identity, known=known, config=self.config, sink=self._sink)
        if not known:
            log.warning(
                "unknown charge point %s connected from %s: its boot is rejected and nothing "
                "it sends is acted on",
                identity,
                link.remote,
            )
            await link.run()
            return
        predecessor = self._stations.get(identity)
        self._stations[identity] = link
        if predecessor is not None:
            await predecessor.supersede()
        log.info("charge point %s connected from %s", identity, link.remote)
        try:
            await link.run(predecessor)
        finally:
            if self._stations.get(identity) is link:
                del self._stations[identity]
        log.info("charge point %s disconnected: %s", identity, link.reason)
