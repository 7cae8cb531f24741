"""One charge point's connection: its requests in order, the central system's calls, liveness.

Reading and handling are two tasks. The reader takes every frame as it comes: answers to the
central system's calls go straight to the call waiting for them, requests queue for the worker,
which handles them one at a time in the order they came. So a command the service sends while it
handles one of this station's events is answered (the `ocpp` package's own ChargePoint would wait
for its timeout there), and the station's messages still reach the sink strictly in order.

The reader also keeps the station honest: nothing received for two heartbeat intervals closes
the connection (1008). The worker emits `StationConnected` first and `StationDisconnected` last,
so the sink sees a station's events between the two.
"""

import asyncio
import logging
import uuid
from collections.abc import Coroutine
from types import EllipsisType
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from evcsm_daemon.chargers.ocpp.config import OcppConfig
from evcsm_daemon.chargers.ocpp.handlers import HANDLERS, utc_now
from evcsm_daemon.chargers.ocpp.rpc import (
    KNOWN_ACTIONS,
    Call,
    CallError,
    CallErrorCode,
    CallResult,
    FrameError,
    Payload,
    RpcError,
    call_frame,
    error_frame,
    parse_frame,
    result_frame,
    validate,
)
from evcsm_daemon.core.events import (
    ChargerEvent,
    EventSink,
    Outcome,
    StationConnected,
    StationDisconnected,
)
from evcsm_daemon.errors import (
    BadRequest,
    ChargerBadAnswer,
    ChargerCommandError,
    ChargerNoAnswer,
    ChargerOffline,
    ChargerRefused,
)

log = logging.getLogger(__name__)

CALL_BACKLOG = 4
"""Requests read ahead of the one being handled; OCPP stations send one at a time anyway."""


def close_reason(exc: ConnectionClosed) -> str:
    """Why a connection closed, for the log and `StationDisconnected`."""
    if exc.sent is not None and exc.sent.code == CloseCode.MESSAGE_TOO_BIG:
        return "frame over the size limit (1009)"
    if exc.rcvd is not None:
        reason = f": {exc.rcvd.reason[:80]}" if exc.rcvd.reason else ""
        return f"closed by the charge point ({exc.rcvd.code}{reason})"
    if exc.sent is not None:
        return f"closed by the central system ({exc.sent.code}: {exc.sent.reason[:80]})"
    return "connection lost"


def peer(ws: ServerConnection) -> str:
    """A connection's remote address as host:port."""
    address: Any = ws.remote_address
    return f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)


class StationLink:
    """The central system's side of one charge point connection."""

    def __init__(
        self,
        ws: ServerConnection,
        station_id: str,
        *,
        known: bool,
        config: OcppConfig,
        sink: EventSink,
    ) -> None:
        self.ws = ws
        self._station_id = station_id
        self._known = known
        self._config = config
        self._sink = sink
        self._calls: asyncio.Queue[Call | None] = asyncio.Queue(CALL_BACKLOG)
        self._call_lock = asyncio.Lock()
        self._pending: tuple[str, str, asyncio.Future[Payload]] | None = None
        self._group: asyncio.TaskGroup | None = None
        self._configure_due = False
        self._open = False
        self._superseded = False
        self.reason = "connection lost"
        self.finished = asyncio.Event()
        """Set once the link is torn down and `StationDisconnected` was handed to the sink."""

    @property
    def station_id(self) -> str:
        """The charge point's identity."""
        return self._station_id

    @property
    def known(self) -> bool:
        """Whether the identity is admitted."""
        return self._known

    @property
    def config(self) -> OcppConfig:
        """The central system's settings."""
        return self._config

    @property
    def remote(self) -> str:
        """The peer's address."""
        return peer(self.ws)

    async def run(self, predecessor: "StationLink | None" = None) -> None:
        """Serve the connection until it closes; after `predecessor` is torn down, if any."""
        try:
            if predecessor is not None:
                await predecessor.finished.wait()
            if self._superseded:
                return
            self._open = True
            async with asyncio.TaskGroup() as group:
                self._group = group
                group.create_task(self._work(), name=f"ocpp-{self.station_id}-worker")
                try:
                    await self._read()
                finally:
                    self._open = False
                    self._fail_pending(ChargerNoAnswer(f"charge point {self.station_id} closed"))
                    self._stop_worker()
        finally:
            self.finished.set()

    def _stop_worker(self) -> None:
        """Queue the worker's end without waiting: requests still queued cannot be answered."""
        while True:
            try:
                self._calls.put_nowait(None)
            except asyncio.QueueFull:
                dropped = self._calls.get_nowait()
                log.debug("dropped %s of closed charge point %s", dropped, self.station_id)
            else:
                return

    async def supersede(self) -> None:
        """A new connection of the same identity takes over: close this one."""
        self._superseded = True
        self.reason = "replaced by a new connection"
        await self.ws.close(CloseCode.NORMAL_CLOSURE, "replaced by a new connection")

    # --- reading -------------------------------------------------------------------------------

    async def _read(self) -> None:
        limit = self.config.silence_limit_s
        try:
            while True:
                try:
                    async with asyncio.timeout(limit):
                        message = await self.ws.recv()
                except TimeoutError:
                    self.reason = f"no message for {limit:.0f} s"
                    await self.ws.close(CloseCode.POLICY_VIOLATION, self.reason)
                    return
                await self._receive(message)
        except ConnectionClosed as exc:
            self.reason = close_reason(exc)

    async def _receive(self, message: str | bytes) -> None:
        try:
            frame = parse_frame(message)
        except FrameError as exc:
            log.warning("charge point %s sent a bad frame: %s", self.station_id, exc.description)
            if exc.answer:
                await self._send(error_frame(exc.unique_id, exc.code, exc.description))
            return
        if isinstance(frame, Call):
            await self._calls.put(frame)
        else:
            self._resolve(frame)

    def _resolve(self, frame: CallResult | CallError) -> None:
        pending = self._pending
        if pending is None or pending[0] != frame.unique_id or pending[2].done():
            log.debug("charge point %s answered no call: %s", self.station_id, frame.unique_id)
            return
        _, action, future = pending
        if isinstance(frame, CallError):
            future.set_exception(
                ChargerRefused(
                    f"charge point {self.station_id} refused {action}: "
                    f"{frame.code} {frame.description[:200]}".rstrip(),
                    frame.code,
                )
            )
            return
        try:
            validate(action, frame.payload, answer=True)
        except RpcError as exc:
            future.set_exception(
                ChargerBadAnswer(
                    f"charge point {self.station_id} answered {action} wrongly: {exc.description}"
                )
            )
        else:
            future.set_result(frame.payload)

    def _fail_pending(self, error: ChargerCommandError) -> None:
        if self._pending is not None and not self._pending[2].done():
            self._pending[2].set_exception(error)

    # --- handling ------------------------------------------------------------------------------

    async def _work(self) -> None:
        if self.known:
            await self._notify(StationConnected(self.station_id, utc_now(), self.remote))
        greeted = not self.known  # unknown stations are asked for nothing
        while True:
            reconnected = False
            if greeted:
                call: Call | EllipsisType | None = await self._calls.get()
            else:
                greeted = True
                call = await self._first_call()
                reconnected = not (isinstance(call, Call) and call.action == "BootNotification")
                if call is ...:
                    self._spawn(self._configure(boot=False), "status")
                    continue
            if call is None or call is ...:
                break
            if not self._open:
                log.debug("dropped %s of closed charge point %s", call.action, self.station_id)
                continue
            await self._send(await self._answer(call))
            if reconnected:
                self._spawn(self._configure(boot=False), "status")
            if self._configure_due:
                self._configure_due = False
                self._spawn(self._configure(boot=True), "configure")
        if self.known:
            await self._notify(StationDisconnected(self.station_id, utc_now(), self.reason))

    async def _first_call(self) -> "Call | EllipsisType | None":
        """The connection's first request, or `...` when none came within the grace period."""
        try:
            async with asyncio.timeout(self.config.status_trigger_delay_s):
                return await self._calls.get()
        except TimeoutError:
            return ...

    def _spawn(self, work: Coroutine[Any, Any, None], what: str) -> None:
        if self._group is not None:
            self._group.create_task(work, name=f"ocpp-{self.station_id}-{what}")

    async def _answer(self, call: Call) -> str:
        try:
            payload = await self._dispatch(call)
        except RpcError as exc:
            log.warning(
                "charge point %s: %s answered %s: %s",
                self.station_id,
                call.action[:60],
                exc.code,
                exc.description,
            )
            return error_frame(call.unique_id, exc.code, exc.description)
        except Exception:  # a supervisor boundary: the station gets InternalError, the link lives
            log.exception("charge point %s: handling %s failed", self.station_id, call.action)
            return error_frame(
                call.unique_id, CallErrorCode.INTERNAL_ERROR, "the central system failed"
            )
        return result_frame(call.unique_id, payload)

    async def _dispatch(self, call: Call) -> Payload:
        action = call.action
        if action not in KNOWN_ACTIONS:
            raise RpcError(CallErrorCode.NOT_IMPLEMENTED, f"{action[:60]!r} is not OCPP 1.6")
        handler = HANDLERS.get(action)
        if handler is None:
            raise RpcError(CallErrorCode.NOT_SUPPORTED, f"{action} is not supported")
        validate(action, call.payload)
        if not self.known and action != "BootNotification":
            raise RpcError(CallErrorCode.SECURITY_ERROR, "charge point not accepted")
        answer = await handler(self, call.payload)
        try:
            validate(action, answer, answer=True)
        except RpcError as exc:
            raise ValueError(f"invalid answer to {action}: {exc.description}") from exc
        return answer

    async def ask(self, event: ChargerEvent) -> Outcome:
        """The sink's outcome, within the configured time."""
        async with asyncio.timeout(self.config.sink_timeout_s):
            return await self._sink.handle(event)

    def configure_after_answer(self) -> None:
        """Once the boot is answered, set the meter interval and ask for every status."""
        self._configure_due = True

    async def _notify(self, event: StationConnected | StationDisconnected) -> None:
        try:
            await self.ask(event)
        except Exception:  # a supervisor boundary: the connection carries on regardless
            log.exception("the sink failed on %s of %s", type(event).__name__, self.station_id)

    async def _configure(self, *, boot: bool) -> None:
        """After a boot: set the meter interval, then ask for every connector's status. After
        a reconnection without a boot: only ask for the statuses (they may have changed while
        the station was away)."""
        interval = str(self.config.meter_interval_s)
        steps: list[tuple[str, Payload]] = [
            ("TriggerMessage", {"requestedMessage": "StatusNotification"})
        ]
        if boot:
            steps.insert(
                0, ("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": interval})
            )
        for action, payload in steps:
            if not self._open:
                return
            try:
                answer = await self.call(action, payload)
            except ChargerCommandError as exc:
                after = "after boot" if boot else "after reconnection"
                log.log(logging.WARNING if self._open else logging.DEBUG, "%s: %s", after, exc)
            else:
                log.debug("charge point %s: %s %s", self.station_id, action, answer)

    # --- sending -------------------------------------------------------------------------------

    async def _send(self, text: str) -> None:
        try:
            await self.ws.send(text)
        except ConnectionClosed:
            log.debug("charge point %s closed before an answer", self.station_id)

    async def call(self, action: str, payload: Payload) -> Payload:
        """Send a CALL and return the station's CALLRESULT payload (one call at a time)."""
        try:
            validate(action, payload)
        except RpcError as exc:
            raise BadRequest(f"{action}: {exc.description}") from None
        timeout = self.config.call_timeout_s
        try:
            async with asyncio.timeout(timeout), self._call_lock:
                if not self._open:
                    raise ChargerOffline(self.station_id)
                unique_id = uuid.uuid4().hex
                future: asyncio.Future[Payload] = asyncio.get_running_loop().create_future()
                self._pending = (unique_id, action, future)
                try:
                    await self.ws.send(call_frame(unique_id, action, payload))
                    return await future
                finally:
                    self._pending = None
        except TimeoutError:
            raise ChargerNoAnswer(
                f"charge point {self.station_id} did not answer {action} within {timeout:.0f} s"
            ) from None
        except ConnectionClosed:
            raise ChargerNoAnswer(
                f"charge point {self.station_id} closed before answering {action}"
            ) from None
