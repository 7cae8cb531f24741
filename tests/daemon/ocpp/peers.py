"""Charge points for the tests: the `ocpp` package's own v16 ChargePoint, and a raw client.

`LabChargePoint` answers every command the central system may send and records what it got;
`answers` changes what it says (`None`: never answer, to test timeouts).
"""

import asyncio
import base64
import contextlib
import json
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

OCPP16 = [Subprotocol("ocpp1.6")]


def now() -> str:
    """An OCPP timestamp for the current moment."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def basic(user: str, password: str) -> dict[str, str]:
    """An HTTP Basic Authorization header."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class LabChargePoint(ChargePoint):
    """A charge point that answers every central system command and records each."""

    def __init__(self, identity: str, connection: ClientConnection) -> None:
        super().__init__(identity, connection, response_timeout=20)
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.arrived = asyncio.Event()
        self.answers: dict[str, str | None] = {}
        self.release = asyncio.Event()
        self.release.set()

    def _got(self, action: str, **fields: Any) -> None:
        self.received.append((action, fields))
        self.arrived.set()

    def got(self, action: str) -> list[dict[str, Any]]:
        """The payloads (snake_case) of every `action` received."""
        return [fields for name, fields in self.received if name == action]

    async def wait_for(self, action: str, count: int = 1) -> list[dict[str, Any]]:
        """Wait until `count` `action` calls arrived."""
        async with asyncio.timeout(20):
            while len(self.got(action)) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.got(action)

    async def _status(self, action: str, default: str) -> str:
        answer = self.answers.get(action, default)
        if answer is None:  # stay silent: the central system's call times out
            await asyncio.sleep(3600)
        return answer or default

    async def _reply(self, action: str, default: str, fields: dict[str, Any]) -> Any:
        """Record the call; answer its result class with the configured status."""
        self._got(action, **fields)
        status = await self._status(action, default)
        return getattr(call_result, action)(status=status)

    @on(Action.remote_start_transaction)
    async def on_remote_start(self, **fields: Any) -> Any:
        return await self._reply("RemoteStartTransaction", "Accepted", fields)

    @on(Action.remote_stop_transaction)
    async def on_remote_stop(self, **fields: Any) -> Any:
        return await self._reply("RemoteStopTransaction", "Accepted", fields)

    @on(Action.change_configuration)
    async def on_change_configuration(self, **fields: Any) -> Any:
        return await self._reply("ChangeConfiguration", "Accepted", fields)

    @on(Action.reset)
    async def on_reset(self, **fields: Any) -> Any:
        return await self._reply("Reset", "Accepted", fields)

    @on(Action.unlock_connector)
    async def on_unlock(self, **fields: Any) -> Any:
        return await self._reply("UnlockConnector", "Unlocked", fields)

    @on(Action.change_availability)
    async def on_change_availability(self, **fields: Any) -> Any:
        return await self._reply("ChangeAvailability", "Scheduled", fields)

    @on(Action.trigger_message)
    async def on_trigger(self, **fields: Any) -> Any:
        return await self._reply("TriggerMessage", "Accepted", fields)

    @on(Action.get_configuration)
    async def on_get_configuration(self, **fields: Any) -> Any:
        self._got("GetConfiguration", **fields)
        await self._status("GetConfiguration", "ok")
        return call_result.GetConfiguration(
            configuration_key=[
                {"key": "MeterValueSampleInterval", "readonly": False, "value": "10"},
                {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
            ],
            unknown_key=["Nope"],
        )

    async def boot(self) -> Any:
        """BootNotification; the central system's answer."""
        return await self.call(
            call.BootNotification(
                charge_point_model="Lab",
                charge_point_vendor="EVCSM",
                charge_point_serial_number="SN-1",
                firmware_version="1.2.3",
            )
        )


@contextlib.asynccontextmanager
async def lab_charge_point(
    url: str,
    identity: str,
    *,
    headers: dict[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[LabChargePoint]:
    """A connected `LabChargePoint` whose receive loop runs for the block."""
    async with connect(
        f"{url}/{identity}",
        subprotocols=OCPP16,
        additional_headers=headers,
        ssl=ssl_context,
        open_timeout=20,
    ) as ws:
        point = LabChargePoint(identity, ws)
        loop = asyncio.create_task(point.start(), name=f"lab-{identity}")
        try:
            yield point
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await loop


class RawStation:
    """A bare WebSocket client that sends frames as given and reads what comes back."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, frame: str | bytes) -> None:
        """Send one frame as it is."""
        await self.ws.send(frame)

    async def reply(self) -> Any:
        """The next frame from the central system, decoded."""
        async with asyncio.timeout(20):
            return json.loads(await self.ws.recv())

    async def call(self, action: str, payload: dict[str, Any], unique_id: str = "1") -> Any:
        """Send a CALL and return the next frame that is not a CALL of the central system."""
        await self.send(json.dumps([2, unique_id, action, payload]))
        return await self.answer_to(unique_id)

    async def answer_to(self, unique_id: str) -> Any:
        """The answer with `unique_id`, skipping the central system's own calls."""
        while True:
            frame = await self.reply()
            if frame[0] in (3, 4) and frame[1] == unique_id:
                return frame


@contextlib.asynccontextmanager
async def raw_station(url: str, identity: str) -> AsyncIterator[RawStation]:
    """A raw client connected as `identity`."""
    async with connect(f"{url}/{identity}", subprotocols=OCPP16, open_timeout=20) as ws:
        yield RawStation(ws)
