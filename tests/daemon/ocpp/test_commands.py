"""The service's commands, carried to real charge points, and every way they can fail."""

import asyncio
import json

import pytest
from evcsm_daemon.chargers.ocpp import CentralSystem
from evcsm_daemon.core.events import (
    Acceptance,
    Availability,
    AvailabilityStatus,
    ChargerEvent,
    ConfigurationEntry,
    ConfigurationStatus,
    Outcome,
    ResetKind,
    StationConnected,
    TransactionStarted,
    TriggerKind,
    TriggerStatus,
    UnlockStatus,
)
from evcsm_daemon.errors import (
    BadRequest,
    ChargerBadAnswer,
    ChargerNoAnswer,
    ChargerOffline,
    ChargerRefused,
    UnknownCharger,
)
from ocpp.v16 import call

from tests.daemon.ocpp.conftest import Start
from tests.daemon.ocpp.peers import lab_charge_point, raw_station
from tests.daemon.ocpp.sink import RecordingSink


async def test_every_command_is_carried_and_answered(
    start_central: Start, sink: RecordingSink
) -> None:
    async with start_central("CP-7") as (central, url), lab_charge_point(url, "CP-7") as point:
        await sink.wait_for(StationConnected)
        assert await central.request_start("CP-7-2", "TAG-1") is Acceptance.ACCEPTED
        assert point.got("RemoteStartTransaction") == [{"connector_id": 2, "id_tag": "TAG-1"}]
        point.answers["RemoteStopTransaction"] = "Rejected"
        assert await central.request_stop("CP-7-2", 41) is Acceptance.REJECTED
        assert point.got("RemoteStopTransaction") == [{"transaction_id": 41}]
        point.answers["ChangeConfiguration"] = "RebootRequired"
        status = await central.change_configuration("CP-7", "HeartbeatInterval", "60")
        assert status is ConfigurationStatus.REBOOT_REQUIRED
        report = await central.get_configuration("CP-7", ("MeterValueSampleInterval", "Nope"))
        assert point.got("GetConfiguration") == [{"key": ["MeterValueSampleInterval", "Nope"]}]
        assert report.entries[0] == ConfigurationEntry("MeterValueSampleInterval", False, "10")
        assert report.unknown_keys == ("Nope",)
        await central.get_configuration("CP-7")
        assert point.got("GetConfiguration")[1] == {}
        assert await central.reset("CP-7", ResetKind.HARD) is Acceptance.ACCEPTED
        assert point.got("Reset") == [{"type": "Hard"}]
        assert await central.unlock_connector("CP-7-1") is UnlockStatus.UNLOCKED
        assert point.got("UnlockConnector") == [{"connector_id": 1}]
        status_0 = await central.change_availability("CP-7-0", Availability.INOPERATIVE)
        assert status_0 is AvailabilityStatus.SCHEDULED
        assert point.got("ChangeAvailability") == [{"connector_id": 0, "type": "Inoperative"}]
        trigger = await central.trigger_message("CP-7", TriggerKind.METER_VALUES, 1)
        assert trigger is TriggerStatus.ACCEPTED
        assert point.got("TriggerMessage")[-1] == {
            "requested_message": "MeterValues",
            "connector_id": 1,
        }


async def test_a_station_that_is_not_connected_is_offline(start_central: Start) -> None:
    async with start_central() as (central, url):
        with pytest.raises(ChargerOffline, match="'CP1' is not connected"):
            await central.request_start("CP1-1", "TAG-1")
        async with lab_charge_point(url, "STRANGER") as point:
            await point.boot()
            with pytest.raises(ChargerOffline):
                await central.reset("STRANGER", ResetKind.SOFT)
        with pytest.raises(ChargerOffline):
            await central.reset("CP1", ResetKind.SOFT)


async def test_a_silent_station_makes_a_clear_timeout_and_the_link_lives_on(
    start_central: Start, sink: RecordingSink
) -> None:
    async with start_central(call_timeout_s=1.0) as (central, url), raw_station(url, "CP1") as raw:
        await sink.wait_for(StationConnected)
        with pytest.raises(ChargerNoAnswer, match="did not answer Reset within 1 s"):
            await central.reset("CP1", ResetKind.SOFT)
        late = await raw.reply()
        pending = asyncio.create_task(central.unlock_connector("CP1-1"), name="unlock")
        frame = await raw.reply()
        await raw.send(json.dumps([3, late[1], {"status": "Accepted"}]))
        await raw.send(json.dumps([3, frame[1], {"status": "Unlocked"}]))
        assert await pending is UnlockStatus.UNLOCKED


async def test_a_connection_closing_under_a_call_ends_it(
    start_central: Start, sink: RecordingSink
) -> None:
    async with start_central() as (central, url):
        async with raw_station(url, "CP1") as raw:
            await sink.wait_for(StationConnected)
            pending = asyncio.create_task(central.reset("CP1", ResetKind.SOFT), name="reset")
            frame = await raw.reply()
            assert frame[2] == "Reset"
        with pytest.raises(ChargerNoAnswer):
            await pending


async def test_callerror_and_bad_answers_from_the_station(
    start_central: Start, sink: RecordingSink
) -> None:
    async with start_central() as (central, url), raw_station(url, "CP1") as raw:
        await sink.wait_for(StationConnected)
        pending = asyncio.create_task(central.unlock_connector("CP1-1"), name="unlock")
        frame = await raw.reply()
        await raw.send(json.dumps([4, frame[1], "NotSupported", "no lock here", {}]))
        with pytest.raises(ChargerRefused, match="NotSupported no lock here") as refused:
            await pending
        assert refused.value.ocpp_error == "NotSupported"

        pending = asyncio.create_task(central.unlock_connector("CP1-1"), name="unlock")
        frame = await raw.reply()
        await raw.send(json.dumps([3, "not-the-id", {"status": "Unlocked"}]))
        await raw.send(json.dumps([3, frame[1], {"status": "Maybe"}]))
        with pytest.raises(ChargerBadAnswer, match="status"):
            await pending


async def test_bad_command_arguments(start_central: Start) -> None:
    async with start_central() as (central, _):
        with pytest.raises(UnknownCharger):
            await central.request_start("CP1", "TAG")
        with pytest.raises(UnknownCharger):
            await central.unlock_connector("CP1-x")
        with pytest.raises(BadRequest, match="whole station"):
            await central.request_start("CP1-0", "TAG")
    async with start_central() as (central, url), lab_charge_point(url, "CP1"):
        with pytest.raises(BadRequest, match="idTag"):
            await central.request_start("CP1-1", "T" * 21)


class CommandingSink(RecordingSink):
    """A service that answers a StartTransaction by commanding the same station."""

    central: CentralSystem | None = None
    answered: Acceptance | None = None

    async def handle(self, event: ChargerEvent) -> Outcome:
        if isinstance(event, TransactionStarted) and self.central is not None:
            self.answered = await self.central.request_stop(f"{event.station_id}-1", 1)
        return await super().handle(event)


async def test_a_command_sent_while_handling_the_stations_message_is_answered() -> None:
    from evcsm_daemon.chargers.ocpp import ChargePointList, OcppConfig

    sink = CommandingSink()
    config = OcppConfig(port=0, charge_points=ChargePointList.parse("CP1"), call_timeout_s=10)
    async with CentralSystem(config, sink) as central:
        sink.central = central
        url = f"ws://127.0.0.1:{central.port}/ocpp"
        async with lab_charge_point(url, "CP1") as point:
            started = await point.call(
                call.StartTransaction(
                    connector_id=1, id_tag="TAG", meter_start=0, timestamp="2025-01-01T00:00:00Z"
                )
            )
    assert started.transaction_id == 1
    assert sink.answered is Acceptance.ACCEPTED
