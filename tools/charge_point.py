"""A charge point to try EVCSM without hardware: OCPP 1.6J over a WebSocket, with the `ocpp`
package the daemon itself depends on.

    uv run --no-sync python tools/charge_point.py ws://127.0.0.1:9000/ocpp CP-1
    uv run --no-sync python tools/charge_point.py wss://evcsm.example:9000/ocpp DEPOT-1 \\
        --password secret --ca-file ca.pem --power-kw 11 --connectors 2

It boots, reports every connector Available, and then does what a charger does: a
RemoteStartTransaction from EVCSM (the dashboard's `s`, REST, MQTT) starts a transaction with
the idTag it was given, meter values follow every `--meter-interval` seconds (the daemon also
sets MeterValueSampleInterval, which wins) with the register rising at `--power-kw`, and a
RemoteStopTransaction stops it. `--rfid TAG` starts one on connector 1 at once, as a card at
the reader would. Heartbeats at the interval the central system gives. Ctrl+C stops it; run it
again and it boots anew, as a charger that was switched off does.
"""

import argparse
import asyncio
import base64
import contextlib
import logging
import ssl
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

log = logging.getLogger("charge_point")


def now() -> str:
    """An OCPP date-time for the current moment."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Connector:
    """One connector's transaction, if it has one."""

    number: int
    transaction_id: int | None = None
    meter_task: asyncio.Task[None] | None = field(default=None, repr=False)


class LabChargePoint(ChargePoint):  # type: ignore[misc]  # the ocpp package is untyped
    """Starts and stops on request, meters while charging."""

    def __init__(self, identity: str, ws: ClientConnection, options: argparse.Namespace) -> None:
        super().__init__(identity, ws, response_timeout=30)
        self.options = options
        self.energy_wh = float(options.register_wh)
        self.metered_at = time.monotonic()
        self.interval_s = float(options.meter_interval)
        self.connectors = {n: Connector(n) for n in range(1, options.connectors + 1)}
        self.tasks: set[asyncio.Task[None]] = set()

    @property
    def register_wh(self) -> int:
        """The energy register now, in whole Wh: it counts on between meter values."""
        now = time.monotonic()
        charging = sum(c.transaction_id is not None for c in self.connectors.values())
        self.energy_wh += self.options.power_kw * 1000 * charging * (now - self.metered_at) / 3600
        self.metered_at = now
        return int(self.energy_wh)

    def later(self, work: Any, name: str) -> None:  # noqa: ANN401 - a coroutine of this class
        """Run `work` once the current answer is sent (the ocpp package answers after return)."""
        task = asyncio.create_task(work, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    @on(Action.remote_start_transaction)  # type: ignore[untyped-decorator]
    async def on_remote_start(self, id_tag: str, connector_id: int | None = None, **_: Any) -> Any:  # noqa: ANN401
        connector = self.connectors.get(connector_id or 1)
        if connector is None or connector.transaction_id is not None:
            return call_result.RemoteStartTransaction(status="Rejected")
        self.later(self.begin(connector, id_tag), f"start-{connector.number}")
        return call_result.RemoteStartTransaction(status="Accepted")

    @on(Action.remote_stop_transaction)  # type: ignore[untyped-decorator]
    async def on_remote_stop(self, transaction_id: int, **_: Any) -> Any:  # noqa: ANN401
        for connector in self.connectors.values():
            if connector.transaction_id == transaction_id:
                self.later(self.stop(connector, "Remote"), f"stop-{connector.number}")
                return call_result.RemoteStopTransaction(status="Accepted")
        return call_result.RemoteStopTransaction(status="Rejected")

    @on(Action.change_configuration)  # type: ignore[untyped-decorator]
    async def on_change_configuration(self, key: str, value: str, **_: Any) -> Any:  # noqa: ANN401
        if key == "MeterValueSampleInterval" and value.isdecimal() and int(value) > 0:
            self.interval_s = float(value)
        log.info("ChangeConfiguration %s = %s", key, value)
        return call_result.ChangeConfiguration(status="Accepted")

    @on(Action.trigger_message)  # type: ignore[untyped-decorator]
    async def on_trigger(self, requested_message: str, **_: Any) -> Any:  # noqa: ANN401
        if requested_message == "StatusNotification":
            self.later(self.report_all(), "statuses")
            return call_result.TriggerMessage(status="Accepted")
        return call_result.TriggerMessage(status="NotImplemented")

    @on(Action.get_configuration)  # type: ignore[untyped-decorator]
    async def on_get_configuration(self, **_: Any) -> Any:  # noqa: ANN401
        interval = str(int(self.interval_s))
        return call_result.GetConfiguration(
            configuration_key=[
                {"key": "MeterValueSampleInterval", "readonly": False, "value": interval},
                {"key": "NumberOfConnectors", "readonly": True, "value": str(len(self.connectors))},
            ]
        )

    @on(Action.reset)  # type: ignore[untyped-decorator]
    async def on_reset(self, type: str, **_: Any) -> Any:  # noqa: ANN401 - OCPP's field name `type`
        log.info("Reset %s asked: a lab charge point only says so", type)
        return call_result.Reset(status="Accepted")

    @on(Action.unlock_connector)  # type: ignore[untyped-decorator]
    async def on_unlock(self, connector_id: int, **_: Any) -> Any:  # noqa: ANN401
        log.info("UnlockConnector %d", connector_id)
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.change_availability)  # type: ignore[untyped-decorator]
    async def on_change_availability(self, connector_id: int, type: str, **_: Any) -> Any:  # noqa: ANN401
        log.info("ChangeAvailability of connector %d: %s", connector_id, type)
        return call_result.ChangeAvailability(status="Accepted")

    async def status(self, number: int, status: str) -> None:
        """StatusNotification of one connector."""
        await self.call(
            call.StatusNotification(connector_id=number, error_code="NoError", status=status)
        )

    async def report_all(self) -> None:
        """Every connector's status."""
        for connector in self.connectors.values():
            charging = connector.transaction_id is not None
            await self.status(connector.number, "Charging" if charging else "Available")

    async def begin(self, connector: Connector, id_tag: str) -> None:
        """Plug in and start a transaction, then meter."""
        await self.status(connector.number, "Preparing")
        answer = await self.call(
            call.StartTransaction(
                connector_id=connector.number,
                id_tag=id_tag,
                meter_start=self.register_wh,
                timestamp=now(),
            )
        )
        connector.transaction_id = answer.transaction_id
        log.info("connector %d: transaction %s started", connector.number, answer.transaction_id)
        await self.status(connector.number, "Charging")
        connector.meter_task = asyncio.create_task(self.meter(connector), name="meter")

    async def meter(self, connector: Connector) -> None:
        """Meter values while the transaction lasts."""
        while True:
            await asyncio.sleep(self.interval_s)
            await self.call(
                call.MeterValues(
                    connector_id=connector.number,
                    transaction_id=connector.transaction_id,
                    meter_value=[
                        {
                            "timestamp": now(),
                            "sampledValue": [
                                {
                                    "value": str(self.register_wh),
                                    "measurand": "Energy.Active.Import.Register",
                                    "unit": "Wh",
                                },
                                {
                                    "value": f"{self.options.power_kw:.1f}",
                                    "measurand": "Power.Active.Import",
                                    "unit": "kW",
                                },
                            ],
                        }
                    ],
                )
            )

    async def stop(self, connector: Connector, reason: str) -> None:
        """Stop the transaction and unplug."""
        if connector.meter_task is not None:
            connector.meter_task.cancel()
        meter_stop = self.register_wh  # before the connector stops counting
        transaction_id, connector.transaction_id = connector.transaction_id, None
        await self.status(connector.number, "Finishing")
        await self.call(
            call.StopTransaction(
                meter_stop=meter_stop,
                timestamp=now(),
                transaction_id=transaction_id,
                reason=reason,
            )
        )
        log.info("connector %d: transaction %s stopped", connector.number, transaction_id)
        await self.status(connector.number, "Available")

    async def heartbeat(self, interval_s: int) -> None:
        """Heartbeats at the central system's interval."""
        while True:
            await asyncio.sleep(interval_s)
            await self.call(call.Heartbeat())


async def run(options: argparse.Namespace) -> None:
    """Connect, boot, and serve until interrupted."""
    headers = {}
    if options.password:
        token = base64.b64encode(f"{options.identity}:{options.password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    context = None
    if options.url.startswith("wss://"):
        context = ssl.create_default_context(cafile=options.ca_file)
    async with connect(
        f"{options.url.rstrip('/')}/{options.identity}",
        subprotocols=[Subprotocol("ocpp1.6")],
        additional_headers=headers,
        ssl=context,
    ) as ws:
        point = LabChargePoint(options.identity, ws, options)
        async with asyncio.TaskGroup() as group:
            group.create_task(point.start(), name="receive")
            boot = await point.call(
                call.BootNotification(
                    charge_point_vendor="EVCSM",
                    charge_point_model="Lab charge point",
                    charge_point_serial_number=f"LAB-{options.identity}",
                    firmware_version="1.0",
                )
            )
            log.info("boot %s, heartbeat every %s s", boot.status, boot.interval)
            if boot.status != "Accepted":
                raise SystemExit(f"the central system did not accept {options.identity}")
            await point.report_all()
            group.create_task(point.heartbeat(boot.interval), name="heartbeat")
            if options.rfid:
                await point.begin(point.connectors[1], options.rfid)


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the central system, such as ws://127.0.0.1:9000/ocpp")
    parser.add_argument("identity", help="the charge point's identity, such as CP-1")
    parser.add_argument("--password", help="HTTP Basic password (OCPP security profile 1)")
    parser.add_argument("--ca-file", help="CA bundle that verifies a wss:// central system")
    parser.add_argument("--connectors", type=int, default=1)
    parser.add_argument("--power-kw", type=float, default=11.0)
    parser.add_argument("--meter-interval", type=int, default=10)
    parser.add_argument("--register-wh", type=int, default=0, help="the meter's register at start")
    parser.add_argument("--rfid", help="start a transaction on connector 1 with this idTag")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("ocpp").setLevel(logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
