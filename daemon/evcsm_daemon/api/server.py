"""The REST server: uvicorn's h11 protocol with the deadlines and the connection cap it lacks.

uvicorn closes a keep-alive connection that stays silent after a response, caps the request head
(`h11_max_incomplete_event_size`) and can answer 503 past `limit_concurrency`, but it waits
forever for a request head that never completes, does not count a connection until a request
arrives, and never drops a client that stops reading. `GuardedH11Protocol` adds those three
limits (`api.limits`); the ASGI guard (`api.guard`) bounds the body. The server leaves signals
to the daemon and cancels requests still running `shutdown_grace` seconds into a shutdown.
"""

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from evcsm_daemon.api.limits import HttpLimits

log = logging.getLogger(__name__)

LOG_EVERY = 100
"""Dropped connections are logged on the first and then every LOG_EVERY-th, not one by one."""


@dataclass
class ConnectionStats:
    """What the limits did, since the server started."""

    header_timeouts: int = 0
    send_timeouts: int = 0
    evicted: int = 0
    refused: int = 0


class GuardedH11Protocol(H11Protocol):
    """One HTTP/1.1 connection, with a head deadline, a send deadline and a connection cap."""

    limits: ClassVar[HttpLimits] = HttpLimits()
    stats: ClassVar[ConnectionStats] = ConnectionStats()

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401 - uvicorn's signature
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._send_timer: asyncio.TimerHandle | None = None
        self._waiting_since = 0.0
        self._drained = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Count the connection; make room for it, or refuse it, when the cap is reached."""
        super().connection_made(transport)  # type: ignore[arg-type]
        self._wait_for_head()
        open_ones = [c for c in self.connections if not c.transport.is_closing()]
        if len(open_ones) > self.limits.max_connections:
            self._make_room(open_ones)

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the timers with the connection."""
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Take data in; past a refusal, drain the rest of the body only up to `max_drain`."""
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.SEND_BODY:
            self._drained += len(data)
            if self._drained > self.limits.max_drain:
                self.transport.abort()
                return
        super().data_received(data)

    def handle_events(self) -> None:
        """Process what arrived; once a whole request head is in, its deadline is met."""
        super().handle_events()
        if self._serving() and self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def on_response_complete(self) -> None:
        """A response went out: the next request head has its own deadline."""
        self._drained = 0
        if not self.transport.is_closing():
            self._wait_for_head()
        super().on_response_complete()

    def pause_writing(self) -> None:
        """The client stopped reading: give it `send_timeout` seconds to start again."""
        super().pause_writing()
        if self._send_timer is None:
            self._send_timer = self.loop.call_later(self.limits.send_timeout, self._send_stalled)

    def resume_writing(self) -> None:
        """The client reads again."""
        super().resume_writing()
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None

    def _wait_for_head(self) -> None:
        self._waiting_since = self.loop.time()
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_late)

    def _serving(self) -> bool:
        """True while a request is being answered (its head is in, its response not done)."""
        return self.cycle is not None and not self.cycle.response_complete

    def _droppable(self) -> bool:
        """True unless the app is answering a whole request to a client that reads."""
        if not self._serving():
            return True
        return self.conn.their_state is h11.SEND_BODY or self.flow.write_paused

    def _make_room(self, open_ones: list[Any]) -> None:
        others = [c for c in open_ones if c is not self and isinstance(c, GuardedH11Protocol)]
        droppable = [c for c in others if c._droppable()]
        if droppable:
            victim = min(droppable, key=lambda c: c._waiting_since)
            victim.transport.abort()
            self.stats.evicted += 1
            self._note("dropped the longest-waiting connection", self.stats.evicted)
        else:
            self.transport.abort()
            self.stats.refused += 1
            self._note(
                "refused a new connection: every connection is being served", self.stats.refused
            )

    def _head_late(self) -> None:
        self._head_timer = None
        if not self._serving() and not self.transport.is_closing():
            self.stats.header_timeouts += 1
            log.debug(
                "closed a connection that sent no request head in %.0f s",
                self.limits.header_timeout,
            )
            self.transport.abort()

    def _send_stalled(self) -> None:
        self._send_timer = None
        self.stats.send_timeouts += 1
        log.debug("dropped a client that read nothing for %.0f s", self.limits.send_timeout)
        self.transport.abort()

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._send_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._send_timer = None

    def _note(self, what: str, count: int) -> None:
        if count == 1 or count % LOG_EVERY == 0:
            log.warning(
                "HTTP connection limit (%d) reached: %s (%d so far)",
                self.limits.max_connections,
                what,
                count,
            )


def _not_a_cancelled_request(record: logging.LogRecord) -> bool:
    """Drop uvicorn's traceback for a request cancelled at shutdown; it logs one line already."""
    return not (record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError))


class HttpServer(uvicorn.Server):
    """uvicorn serving `app` within `limits`; the daemon owns SIGTERM and SIGINT."""

    def __init__(self, app: ASGIApp, limits: HttpLimits) -> None:
        class Protocol(GuardedH11Protocol):
            """This server's connections: its limits, its counts."""

        Protocol.limits = limits
        Protocol.stats = ConnectionStats()
        config = uvicorn.Config(
            app,
            http=Protocol,
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_keep_alive=limits.keep_alive,
            timeout_graceful_shutdown=limits.shutdown_grace,
            h11_max_incomplete_event_size=limits.max_header,
        )
        super().__init__(config)
        self.stats = Protocol.stats
        logging.getLogger("uvicorn.error").addFilter(_not_a_cancelled_request)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Leave signal handling to the daemon."""
        yield

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's graceful shutdown, then drop whatever connection is left."""
        await super().shutdown(sockets)
        for connection in list(self.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
