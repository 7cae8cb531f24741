"""Connections come and go: clean shutdown, dropped peers, no task left behind."""

import asyncio

import pytest
from evcsm_daemon.chargers.ocpp import CentralSystem, ChargePointList, OcppConfig
from evcsm_daemon.core.events import StationConnected, StationDisconnected
from ocpp.v16 import call
from websockets.exceptions import ConnectionClosed

from tests.daemon.ocpp.conftest import Start
from tests.daemon.ocpp.peers import lab_charge_point, raw_station
from tests.daemon.ocpp.sink import RecordingSink


def ocpp_tasks() -> list[str]:
    return [task.get_name() for task in asyncio.all_tasks() if task.get_name().startswith("ocpp-")]


async def test_shutdown_closes_every_connection_with_1001_and_awaits_its_tasks(
    sink: RecordingSink,
) -> None:
    config = OcppConfig(port=0, charge_points=ChargePointList.parse("CP1,CP2"))
    central = CentralSystem(config, sink)
    await central.start()
    url = f"ws://127.0.0.1:{central.port}/ocpp"
    async with raw_station(url, "CP1") as raw, lab_charge_point(url, "CP2") as point:
        await point.boot()
        await sink.wait_for(StationConnected, lambda e: e.station_id == "CP1")
        assert ocpp_tasks()
        await central.close()
        assert ocpp_tasks() == []
        with pytest.raises(ConnectionClosed) as closed:
            await raw.reply()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1001
    gone = {event.station_id: event.reason for event in sink.of(StationDisconnected)}
    assert set(gone) == {"CP1", "CP2"}
    assert "1001" in gone["CP1"]
    await central.close()  # a second close is harmless


async def test_a_dropped_peer_is_disconnected_and_others_carry_on(
    start_central: Start, sink: RecordingSink
) -> None:
    async with start_central() as (central, url), lab_charge_point(url, "CP2") as point:
        async with raw_station(url, "CP1") as raw:
            await sink.wait_for(StationConnected, lambda e: e.station_id == "CP1")
            raw.ws.transport.abort()
            gone = await sink.wait_for(StationDisconnected)
        assert gone.station_id == "CP1"
        assert (await point.boot()).status == "Accepted"
        assert central.connected == {"CP2"}


async def test_a_peer_that_never_finishes_its_handshake_is_dropped(start_central: Start) -> None:
    async with start_central(handshake_timeout_s=1.0) as (central, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", central.port)
        writer.write(b"GET /ocpp/CP1 HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        async with asyncio.timeout(30):
            assert await reader.read() == b""
        writer.close()


async def test_connections_racing_for_one_identity_never_overlap(
    start_central: Start, sink: RecordingSink
) -> None:
    async with start_central() as (central, url), raw_station(url, "CP1"):
        await sink.wait_for(StationConnected)
        async with raw_station(url, "CP1") as second, raw_station(url, "CP1") as third:
            reply = await third.call("Heartbeat", {}, "alive")
            assert reply[:2] == [3, "alive"]
            with pytest.raises(ConnectionClosed) as closed:
                await second.reply()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.reason == "replaced by a new connection"
            assert central.connected == {"CP1"}
    lifecycle = [
        type(event).__name__
        for event in sink.events
        if isinstance(event, StationConnected | StationDisconnected)
    ]
    assert lifecycle[::2] == ["StationConnected"] * len(lifecycle[::2])
    assert lifecycle[1::2] == ["StationDisconnected"] * len(lifecycle[1::2])


async def test_a_reconnection_without_a_boot_is_asked_for_every_status(
    start_central: Start,
) -> None:
    async with start_central() as (_, url):
        async with lab_charge_point(url, "CP1") as point:
            await point.boot()
            await point.wait_for("TriggerMessage")
        async with lab_charge_point(url, "CP1") as point:
            await point.call(call.Heartbeat())
            (trigger,) = await point.wait_for("TriggerMessage")
            assert trigger == {"requested_message": "StatusNotification"}
            assert point.got("ChangeConfiguration") == []


async def test_a_silent_reconnection_is_asked_for_every_status_after_the_grace(
    start_central: Start,
) -> None:
    async with (
        start_central(status_trigger_delay_s=0.2) as (_, url),
        lab_charge_point(url, "CP1") as point,
    ):
        (trigger,) = await point.wait_for("TriggerMessage")
        assert trigger == {"requested_message": "StatusNotification"}


async def test_a_boot_first_is_configured_once(start_central: Start) -> None:
    async with (
        start_central(status_trigger_delay_s=0.2) as (_, url),
        lab_charge_point(url, "CP1") as point,
    ):
        await point.boot()
        await point.wait_for("TriggerMessage")
        await point.call(call.Heartbeat())
        assert [name for name, _ in point.received] == ["ChangeConfiguration", "TriggerMessage"]
