"""The two halves fit: the real central system on loopback, the real service as its sink, and a
charge point of the `ocpp` package booting, reporting, charging on a remote start and stopping."""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from evcsm_daemon.chargers.ocpp import CentralSystem, ChargePointList, OcppConfig
from evcsm_daemon.service import ChargingService
from evcsm_daemon.store import open_store
from evcsm_schema import ChargerStatus, ChargingSession, SessionStatus
from ocpp.v16 import call

from tests.daemon.ocpp.peers import lab_charge_point
from tests.support.service import Recorder, fleet

START = "2025-02-25T12:00:00Z"


def energy(wh: str) -> dict[str, str]:
    return {"value": wh, "measurand": "Energy.Active.Import.Register", "unit": "Wh"}


def power(kw: str) -> dict[str, str]:
    return {"value": kw, "measurand": "Power.Active.Import", "unit": "kW"}


async def until(condition: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(20):
        while not condition():  # noqa: ASYNC110 - polling state owned by the loop under test
            await asyncio.sleep(0.01)
    assert condition(), what


async def test_a_charge_point_charges_through_the_real_service() -> None:
    store = open_store("memory")
    await store.ensure_indexes()
    service = ChargingService(store, fleet(("CP1", 22.0)))
    await service.resume()
    announced = Recorder()
    service.subscribe(announced)
    config = OcppConfig(port=0, charge_points=ChargePointList.parse("LAB-7"))
    async with CentralSystem(config, service) as central:
        service.attach_stations(central)
        url = f"ws://127.0.0.1:{central.port}/ocpp"
        async with lab_charge_point(url, "LAB-7") as point:
            boot = await point.boot()
            assert boot.status == "Accepted"
            await point.wait_for("TriggerMessage")  # the central system asks for every status
            await point.call(
                call.StatusNotification(connector_id=1, error_code="NoError", status="Available")
            )
            await until(lambda: "LAB-7-1" in service.charger_ids(), "the connector joined")
            state = service.state("LAB-7-1")
            assert state.status is ChargerStatus.IDLE
            assert (state.vendor, state.model, state.serial_number) == ("EVCSM", "Lab", "SN-1")
            assert "LAB-7-1" in [s.charger_id for s in announced.chargers]

            pending = await service.request_start("LAB-7-1", "RFID-42")
            (remote,) = await point.wait_for("RemoteStartTransaction")
            assert remote == {"connector_id": 1, "id_tag": "RFID-42"}
            assert not pending.done
            started = await point.call(
                call.StartTransaction(
                    connector_id=1, id_tag="RFID-42", meter_start=52_000, timestamp=START
                )
            )
            session = await asyncio.wait_for(pending.wait(), 20)
            assert session.transaction_id == started.transaction_id
            assert started.id_tag_info == {"status": "Accepted"}
            await point.call(
                call.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
            )
            await point.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=started.transaction_id,
                    meter_value=[
                        {
                            "timestamp": "2025-02-25T12:10:00Z",
                            "sampledValue": [energy("55667"), power("22.0")],
                        }
                    ],
                )
            )
            live = await service.get(session.session_id)
            assert live.meter_wh == 55_667
            assert live.power_kw == 22.0
            assert service.state("LAB-7-1").status is ChargerStatus.CHARGING

            stopping = await service.request_stop("LAB-7-1", "Stopped by API request")
            await point.wait_for("RemoteStopTransaction")
            stop = await point.call(
                call.StopTransaction(
                    meter_stop=63_000,
                    timestamp="2025-02-25T12:30:00Z",
                    transaction_id=started.transaction_id,
                    reason="Remote",
                )
            )
            assert stop.id_tag_info is None
            stopped = await asyncio.wait_for(stopping.wait(), 20)

    assert await store.get(session.session_id) == stopped
    assert_stored(stopped, started.transaction_id)
    assert service.state("LAB-7-1").status is ChargerStatus.OFFLINE  # the station has gone


def assert_stored(stored: ChargingSession, transaction_id: int) -> None:
    assert stored.status is SessionStatus.STOPPED
    assert stored.charger_id == "LAB-7-1"
    assert (stored.charge_point_id, stored.connector_id, stored.id_tag) == ("LAB-7", 1, "RFID-42")
    assert stored.transaction_id == transaction_id
    assert stored.start_time == datetime(2025, 2, 25, 12, 0, tzinfo=UTC)
    assert stored.end_time == datetime(2025, 2, 25, 12, 30, tzinfo=UTC)
    assert (stored.meter_start_wh, stored.meter_wh) == (52_000, 63_000)
    assert stored.energy_consumed == 11.0
    assert stored.stop_reason == "Stopped by API request"
