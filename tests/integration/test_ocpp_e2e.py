"""The whole daemon as a central system: real Mosquitto, a real store, the OCPP listener, and
charge points of the `ocpp` package (or raw frames) over real WebSockets on loopback."""

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from evcsm_daemon import runtime
from evcsm_daemon.store import open_store
from evcsm_schema import topics
from ocpp.v16 import call
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.daemon.ocpp.peers import OCPP16, LabChargePoint, basic, lab_charge_point, raw_station
from tests.support.broker import Mosquitto, free_port
from tests.support.faults import Fault, FaultyStore
from tests.support.mqtt import Received
from tests.support.ocpp import Site, ocpp_site, until

T0 = "2026-03-01T10:00:00Z"


def at(minute: int) -> str:
    return f"2026-03-01T10:{minute:02d}:00Z"


def energy(value: str, unit: str = "Wh") -> dict[str, str]:
    return {"value": value, "measurand": "Energy.Active.Import.Register", "unit": unit}


def sample(minute: int, *values: dict[str, str]) -> list[dict[str, Any]]:
    return [{"timestamp": at(minute), "sampledValue": list(values)}]


async def booted(point: LabChargePoint, site: Site) -> None:
    assert (await point.boot()).status == "Accepted"
    await point.wait_for("TriggerMessage")
    await point.call(
        call.StatusNotification(connector_id=1, error_code="NoError", status="Available")
    )
    await until(lambda: "LAB-1-1" in site.service.charger_ids(), "the connector joined")


async def state_of(site: Site, charger_id: str = "LAB-1-1") -> dict[str, Any]:
    """The latest retained state the broker delivered for the charger."""
    states = site.mqtt.on(topics.charger_state(charger_id))
    assert states, charger_id
    decoded: dict[str, Any] = states[-1].json()
    return decoded


async def wait_state(site: Site, status: str, charger_id: str = "LAB-1-1") -> dict[str, Any]:
    found = await site.mqtt.wait_for(
        lambda m: m.topic == topics.charger_state(charger_id) and m.json()["status"] == status
    )
    decoded: dict[str, Any] = found.json()
    return decoded


async def session_of(site: Site, session_id: str) -> dict[str, Any]:
    answer = await site.http.get(f"/api/sessions/{session_id}")
    assert answer.status_code == 200
    decoded: dict[str, Any] = answer.json()
    return decoded


async def test_who_gets_in(broker: Mosquitto) -> None:
    async with ocpp_site(broker, ocpp_charge_points="LAB-1,LAB-2:pa55word") as site:
        async with lab_charge_point(site.url, "STRANGER") as stranger:
            assert (await stranger.boot()).status == "Rejected"
        async with lab_charge_point(site.url, "LAB-2", headers=basic("LAB-2", "pa55word")) as ok:
            assert (await ok.boot()).status == "Accepted"
        for headers in (basic("LAB-2", "wrong"), None, basic("LAB-1", "pa55word")):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(
                    f"{site.url}/LAB-2", subprotocols=OCPP16, additional_headers=headers
                ):
                    pass
            assert refused.value.response.status_code == 401
        with pytest.raises(InvalidStatus) as wrong:
            async with connect(f"{site.url}/LAB-1", subprotocols=["ocpp2.0.1"]):  # type: ignore[list-item]
                pass
        assert wrong.value.response.status_code == 400
        stations = (await site.http.get("/api/stations")).json()
        assert [s["chargePointId"] for s in stations] == ["LAB-1", "LAB-2"]  # not STRANGER


async def test_a_local_start_meter_values_in_wh_and_kwh_and_a_local_stop(
    broker: Mosquitto, tmp_path: Path
) -> None:
    async with (
        ocpp_site(broker, mongodb_uri=f"sqlite:{tmp_path / 's.db'}") as site,
        lab_charge_point(site.url, "LAB-1") as point,
    ):
        await booted(point, site)
        assert (await point.call(call.Authorize(id_tag="RFID-42"))).id_tag_info[
            "status"
        ] == "Accepted"
        started = await point.call(
            call.StartTransaction(
                connector_id=1, id_tag="RFID-42", meter_start=123_456, timestamp=T0
            )
        )
        tx = started.transaction_id
        event = await site.mqtt.wait_for(
            lambda m: m.topic == topics.SEED_CHARGING and m.json()["status"] == "Charging"
        )
        session_id = event.json()["sessionId"]
        await point.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
        )
        await wait_state(site, "Charging")
        await point.call(
            call.MeterValues(
                connector_id=1, transaction_id=tx, meter_value=sample(5, energy("124000"))
            )
        )
        await point.call(
            call.MeterValues(
                connector_id=1, transaction_id=tx, meter_value=sample(10, energy("130.2517", "kWh"))
            )
        )
        await site.mqtt.wait_for(
            lambda m: m.topic == topics.SEED_SESSION and m.json()["meterWh"] == 130_251
        )
        live = await session_of(site, session_id)
        assert (live["meterStartWh"], live["meterWh"]) == (123_456, 130_251)
        assert live["energyConsumed"] == 6.795
        assert (live["transactionId"], live["idTag"], live["chargePointId"]) == (
            tx,
            "RFID-42",
            "LAB-1",
        )
        await point.call(
            call.StopTransaction(
                meter_stop=131_000, timestamp=at(20), transaction_id=tx, reason="EVDisconnected"
            )
        )
        stopped = await session_of(site, session_id)
        assert stopped["status"] == "Stopped"
        assert stopped["stopReason"] == "EVDisconnected"
        assert stopped["energyConsumed"] == 7.544
        assert stopped["endTime"] == "2026-03-01T10:20:00Z"
        assert (await state_of(site))["session"]["status"] == "Stopped"


async def test_offline_replay_with_late_and_repeated_messages(broker: Mosquitto) -> None:
    async with ocpp_site(broker) as site:
        async with lab_charge_point(site.url, "LAB-1") as point:
            await booted(point, site)
            start = call.StartTransaction(
                connector_id=1, id_tag="RFID-1", meter_start=1_000, timestamp=T0
            )
            tx = (await point.call(start)).transaction_id
            assert (await point.call(start)).transaction_id == tx  # a repeat: the same id
            reading = call.MeterValues(
                connector_id=1, transaction_id=tx, meter_value=sample(10, energy("5000"))
            )
            await point.call(reading)
            await point.call(reading)
        await wait_state(site, "Offline")
        assert len(site.service.active_sessions()) == 1  # the car charges on meanwhile
        async with lab_charge_point(site.url, "LAB-1") as point:  # no boot: a reconnection
            late = call.MeterValues(
                connector_id=1, transaction_id=tx, meter_value=sample(30, energy("9000"))
            )
            await point.call(late)
            older = call.MeterValues(
                connector_id=1, transaction_id=tx, meter_value=sample(20, energy("7000"))
            )
            await point.call(older)  # replayed out of order: the register never goes back
            (trigger,) = await point.wait_for("TriggerMessage")
            assert trigger == {"requested_message": "StatusNotification"}
            await point.call(
                call.StatusNotification(connector_id=1, error_code="NoError", status="Finishing")
            )
            await wait_state(site, "Finishing")
            assert site.service.active_sessions()[0].meter_wh == 9_000
            stop = call.StopTransaction(meter_stop=9_500, timestamp=at(40), transaction_id=tx)
            await point.call(stop)
            assert (await point.call(stop)) is not None  # a repeat is answered, changes nothing
        page = (await site.http.get("/api/sessions", params={"chargerId": "LAB-1-1"})).json()
        assert page["total"] == 1
        (stored,) = page["items"]
        assert (stored["meterStartWh"], stored["meterWh"], stored["energyConsumed"]) == (
            1_000,
            9_500,
            8.5,
        )
        assert stored["endTime"] == "2026-03-01T10:40:00Z"


async def test_a_silent_station_goes_offline_on_mqtt(broker: Mosquitto) -> None:
    async with (
        ocpp_site(broker, ocpp_heartbeat_interval=1) as site,
        raw_station(site.url, "LAB-1") as raw,
    ):
        assert (await raw.call("BootNotification", BOOT))[2]["interval"] == 1
        status = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
        await raw.call("StatusNotification", status, "2")
        await wait_state(site, "Idle")
        offline = await wait_state(site, "Offline")  # two intervals without a word
        assert offline["chargePointId"] == "LAB-1"


MALFORMED: list[str | bytes] = [
    "not json",
    "[]",
    '{"a": 1}',
    '[2, "x"]',
    '[9, "x", "Heartbeat", {}]',
    '[2, "x", "Heartbeat", []]',
    '[2, "x", "NoSuchAction", {}]',
    '[2, "x", "StartTransaction", {"connectorId": 1}]',
    '[2, "x", "StatusNotification", {"connectorId": 999, "errorCode": "NoError", "status": "Available"}]',
    '[2, "x", "MeterValues", {"connectorId": 1, "meterValue": []}]',
    b"\x00\xff binary",
    "[2, " + '"' + "y" * 5000 + '"' + ', "Heartbeat", {}]',
]


async def test_malformed_frames_get_callerrors_and_the_daemon_lives(broker: Mosquitto) -> None:
    async with ocpp_site(broker) as site:
        async with raw_station(site.url, "LAB-1") as raw:
            for frame in MALFORMED:
                await raw.send(frame)
                while (answer := await raw.reply())[0] == 2:  # the central system's own calls
                    pass
                assert answer[0] == 4, (frame, answer)
            assert (await raw.call("Heartbeat", {}, "alive"))[0] == 3
        async with lab_charge_point(site.url, "LAB-1") as point:
            assert (await point.boot()).status == "Accepted"
        assert (await site.http.get("/healthz")).status_code == 200
        ready = (await site.http.get("/readyz")).json()
        assert ready["ready"] is True


async def test_a_restart_mid_session_keeps_it_charging_until_the_station_stops_it(
    broker: Mosquitto, tmp_path: Path
) -> None:
    settings: dict[str, object] = {
        "mongodb_uri": f"sqlite:{tmp_path / 'sessions.db'}",
        "ocpp_addr": f"127.0.0.1:{free_port()}",
    }
    async with (
        ocpp_site(broker, **settings) as site,
        lab_charge_point(site.url, "LAB-1") as point,
    ):
        await booted(point, site)
        start = call.StartTransaction(connector_id=1, id_tag="T", meter_start=0, timestamp=T0)
        tx = (await point.call(start)).transaction_id
        await point.call(
            call.MeterValues(
                connector_id=1, transaction_id=tx, meter_value=sample(5, energy("2000"))
            )
        )
    async with ocpp_site(broker, **settings) as site:
        chargers = (await site.http.get("/api/chargers")).json()
        (charger,) = [c for c in chargers if c["chargerId"] == "LAB-1-1"]
        assert charger["status"] == "Offline"
        assert charger["session"]["status"] == "Charging"
        assert charger["session"]["transactionId"] == tx
        history = (await site.http.get("/api/sessions", params={"chargerId": "LAB-1-1"})).json()
        assert history["total"] == 1
        async with lab_charge_point(site.url, "LAB-1") as point:
            await point.call(
                call.StopTransaction(meter_stop=4_321, timestamp=at(30), transaction_id=tx)
            )
            await point.wait_for("TriggerMessage")  # asked for its statuses after reconnecting
        stopped = (await site.http.get("/api/sessions", params={"chargerId": "LAB-1-1"})).json()
        (session,) = stopped["items"]
        assert (session["status"], session["energyConsumed"]) == ("Stopped", 4.321)
    async with ocpp_site(broker, **settings) as site:
        chargers = {c["chargerId"]: c for c in (await site.http.get("/api/chargers")).json()}
        assert chargers["LAB-1-1"]["status"] == "Offline"  # listed with its last session
        assert chargers["LAB-1-1"]["session"]["status"] == "Stopped"
        retained = await wait_state(site, "Offline")
        assert retained["session"]["energyConsumed"] == 4.321


async def test_a_station_that_drops_during_a_remote_start(broker: Mosquitto) -> None:
    async with ocpp_site(broker) as site:
        async with lab_charge_point(site.url, "LAB-1") as point:
            await booted(point, site)
            point.answers["RemoteStartTransaction"] = None  # never answers

            async def drop() -> None:
                await point.wait_for("RemoteStartTransaction")
                await point._connection.close()

            dropping = asyncio.create_task(drop())
            reply = await site.mqtt.request("evcsm/chargers/LAB-1-1/cmd/start")
            await dropping
        assert reply["ok"] is False
        assert reply["error"]["code"] == "charger_no_answer"
        assert site.service.active_sessions() == []
        offline = await site.http.post("/api/chargers/LAB-1-1/start")
        assert offline.json()["code"] == "charger_offline"


def reading(wh: int) -> Callable[[Received], bool]:
    """Matches the `session/updates` message of a register."""
    return lambda m: m.topic == topics.SEED_SESSION and m.json()["meterWh"] == wh


async def test_session_updates_of_an_ocpp_session_follow_its_meter_values(
    broker: Mosquitto,
) -> None:
    async with ocpp_site(broker) as site, lab_charge_point(site.url, "LAB-1") as point:
        await booted(point, site)
        start = call.StartTransaction(connector_id=1, id_tag="T", meter_start=0, timestamp=T0)
        tx = (await point.call(start)).transaction_id
        for minute, register in ((1, "100"), (2, "250")):
            await point.call(
                call.MeterValues(
                    connector_id=1, transaction_id=tx, meter_value=sample(minute, energy(register))
                )
            )
            await site.mqtt.wait_for(reading(int(register)))
        updates = [m.json()["meterWh"] for m in site.mqtt.on(topics.SEED_SESSION)]
        assert updates == [100, 250]  # one per reading, not one per tick


async def test_the_store_down_during_start_transaction(
    broker: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The station is answered InternalError, sends the message again, and the session is
    stored with its own start time and register: nothing is lost, nothing doubled."""
    opened: list[FaultyStore] = []

    def faulty(uri: str, **options: Any) -> FaultyStore:
        store = FaultyStore(open_store(uri, **options))
        opened.append(store)
        return store

    monkeypatch.setattr(runtime, "open_store", faulty)
    async with (
        ocpp_site(broker, mongodb_uri=f"sqlite:{tmp_path / 's.db'}") as site,
        raw_station(site.url, "LAB-1") as raw,
    ):
        assert (await raw.call("BootNotification", BOOT))[0] == 3
        (store,) = opened
        store.fail("insert_active", Fault.DOWN, times=3)  # retries included: the store is down
        start = {"connectorId": 1, "idTag": "T", "meterStart": 777, "timestamp": T0}
        refused = await raw.call("StartTransaction", start, "s1")
        assert refused[:3] == [4, "s1", "InternalError"]
        assert site.service.active_sessions() == []
        store.heal()
        again = await raw.call("StartTransaction", start, "s2")  # the station's retry
        assert again[0] == 3
        (session,) = site.service.active_sessions()
        assert again[2]["transactionId"] == session.transaction_id
        assert (session.meter_start_wh, session.start_time.isoformat()) == (
            777,
            "2026-03-01T10:00:00+00:00",
        )
        page = (await site.http.get("/api/sessions", params={"chargerId": "LAB-1-1"})).json()
        assert page["total"] == 1


BOOT = {"chargePointVendor": "V", "chargePointModel": "M"}
