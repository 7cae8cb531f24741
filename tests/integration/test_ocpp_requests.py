"""Starts and stops of OCPP chargers from MQTT and REST: pending at once, then the outcome.

The whole daemon runs (real Mosquitto, a real store, the OCPP listener), and the charge point is
the `ocpp` package's own ChargePoint over a real WebSocket on loopback.
"""

import asyncio
from pathlib import Path
from typing import Any

import pytest
from evcsm_schema import topics
from ocpp.v16 import call

from tests.daemon.ocpp.peers import LabChargePoint, lab_charge_point, now
from tests.support.broker import Mosquitto
from tests.support.ocpp import Site, eventually, ocpp_site, until

START_TOPIC = "evcsm/chargers/LAB-1-1/cmd/start"
STOP_TOPIC = "evcsm/chargers/LAB-1-1/cmd/stop"


def energy(value: str, unit: str = "Wh") -> dict[str, str]:
    return {"value": value, "measurand": "Energy.Active.Import.Register", "unit": unit}


async def ready(point: LabChargePoint, site: Site, status: str = "Available") -> None:
    """Boot, report connector 1, and wait until the daemon shows it."""
    assert (await point.boot()).status == "Accepted"
    await point.wait_for("TriggerMessage")
    await point.call(call.StatusNotification(connector_id=1, error_code="NoError", status=status))
    await until(lambda: "LAB-1-1" in site.service.charger_ids(), "the connector joined")


async def start_transaction(point: LabChargePoint, meter_start: int = 1000) -> int:
    answer = await point.call(
        call.StartTransaction(
            connector_id=1, id_tag="EVCSM", meter_start=meter_start, timestamp=now()
        )
    )
    transaction_id: int = answer.transaction_id
    return transaction_id


@pytest.fixture(params=["memory", "sqlite"])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return "memory" if request.param == "memory" else f"sqlite:{tmp_path / 'sessions.db'}"


async def test_mqtt_start_and_stop_are_pending_then_final(
    broker: Mosquitto, store_uri: str
) -> None:
    async with (
        ocpp_site(broker, mongodb_uri=store_uri) as site,
        lab_charge_point(site.url, "LAB-1") as point,
    ):
        await ready(point, site)
        correlation = await site.mqtt.ask(START_TOPIC)
        (first,) = await site.mqtt.replies(correlation, 1)
        assert first["ok"] is True
        assert first["pending"] is True
        assert "session" not in first
        assert (await point.wait_for("RemoteStartTransaction"))[0]["connector_id"] == 1
        transaction_id = await start_transaction(point, 1000)
        _, final = await site.mqtt.replies(correlation, 2)
        assert final["ok"] is True
        assert "pending" not in final
        assert final["requestId"] == first["requestId"]
        session = final["session"]
        assert session["transactionId"] == transaction_id
        assert (session["chargePointId"], session["connectorId"]) == ("LAB-1", 1)
        event = await site.mqtt.wait_for(
            lambda m: (
                m.topic == topics.SEED_CHARGING
                and m.json().get("sessionId") == session["sessionId"]
            )
        )
        assert event.json()["status"] == "Charging"
        await site.mqtt.wait_for(
            lambda m: (
                m.topic == topics.charger_state("LAB-1-1")
                and (m.json().get("session") or {}).get("sessionId") == session["sessionId"]
            )
        )
        listed = (await site.http.get("/api/sessions", params={"chargerId": "LAB-1-1"})).json()
        assert [s["sessionId"] for s in listed["items"]] == [session["sessionId"]]

        stopping = await site.mqtt.ask(STOP_TOPIC, b'{"reason": "Driver went home"}')
        (first,) = await site.mqtt.replies(stopping, 1)
        assert first["pending"] is True
        (remote,) = await point.wait_for("RemoteStopTransaction")
        assert remote["transaction_id"] == transaction_id
        await point.call(
            call.StopTransaction(
                meter_stop=5321, timestamp=now(), transaction_id=transaction_id, reason="Remote"
            )
        )
        _, final = await site.mqtt.replies(stopping, 2)
        stopped = final["session"]
        assert stopped["status"] == "Stopped"
        assert stopped["stopReason"] == "Driver went home"
        assert stopped["energyConsumed"] == 4.321
        stored = (await site.http.get(f"/api/sessions/{session['sessionId']}")).json()
        assert stored == stopped


async def test_rest_start_answers_202_with_a_location_to_poll(broker: Mosquitto) -> None:
    async with ocpp_site(broker) as site, lab_charge_point(site.url, "LAB-1") as point:
        await ready(point, site)
        accepted = await site.http.post("/api/chargers/LAB-1-1/start")
        assert accepted.status_code == 202
        body = accepted.json()
        assert body["state"] == "pending"
        assert (body["chargerId"], body["action"]) == ("LAB-1-1", "start")
        location = accepted.headers["Location"]
        assert location == f"/api/requests/{body['requestId']}"
        assert (await site.http.get(location)).json()["state"] == "pending"
        again = await site.http.post("/api/chargers/LAB-1-1/start")
        assert again.status_code == 202
        assert again.json()["requestId"] == body["requestId"]  # one request, shared

        transaction_id = await start_transaction(point, 0)
        polled: dict[str, Any] = {}

        async def done() -> bool:
            polled.update((await site.http.get(location)).json())
            return bool(polled["state"] == "done")

        await eventually(done, "the request is done")
        assert polled["session"]["transactionId"] == transaction_id
        active = await site.http.post("/api/chargers/LAB-1-1/start")
        assert active.status_code == 200  # already charging: the session, as for any charger
        assert active.json()["transactionId"] == transaction_id

        stop = await site.http.post("/api/chargers/LAB-1-1/stop")
        assert stop.status_code == 202
        await point.wait_for("RemoteStopTransaction")
        await point.call(
            call.StopTransaction(
                meter_stop=10, timestamp=now(), transaction_id=transaction_id, reason="Remote"
            )
        )
        await site.mqtt.wait_for(
            lambda m: m.topic == topics.SEED_CHARGING and m.json()["status"] == "Stopped"
        )
        final = (await site.http.get(stop.headers["Location"])).json()
        assert final["state"] == "done"
        assert final["session"]["stopReason"] == "Stopped by API request"


async def test_a_rejected_start_is_one_error_reply_and_409(broker: Mosquitto) -> None:
    async with ocpp_site(broker) as site, lab_charge_point(site.url, "LAB-1") as point:
        await ready(point, site)
        point.answers["RemoteStartTransaction"] = "Rejected"
        reply = await site.mqtt.request(START_TOPIC)
        assert reply["ok"] is False
        assert reply["error"]["code"] == "start_rejected"
        refused = await site.http.post("/api/chargers/LAB-1-1/start")
        assert refused.status_code == 409
        assert refused.json()["code"] == "start_rejected"


async def test_no_start_transaction_in_time_is_start_timeout(broker: Mosquitto) -> None:
    async with (
        ocpp_site(broker, start_timeout=1.0) as site,
        lab_charge_point(site.url, "LAB-1") as point,
    ):
        await ready(point, site)
        correlation = await site.mqtt.ask(START_TOPIC)
        first, final = await site.mqtt.replies(correlation, 2)
        assert first["pending"] is True
        assert final["ok"] is False
        assert final["error"]["code"] == "start_timeout"
        assert final["requestId"] == first["requestId"]
        polled = (await site.http.get(f"/api/requests/{first['requestId']}")).json()
        assert polled["state"] == "failed"
        assert polled["error"]["code"] == "start_timeout"


async def test_an_offline_charger_is_charger_offline(broker: Mosquitto) -> None:
    async with ocpp_site(broker) as site:
        async with lab_charge_point(site.url, "LAB-1") as point:
            await ready(point, site)
        await until(lambda: site.service.state("LAB-1-1").status == "Offline", "offline")
        reply = await site.mqtt.request(START_TOPIC)
        assert reply["error"]["code"] == "charger_offline"
        refused = await site.http.post("/api/chargers/LAB-1-1/start")
        assert (refused.status_code, refused.json()["code"]) == (503, "charger_offline")
        unknown = await site.http.get("/api/requests/00000000-0000-0000-0000-000000000000")
        assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")


async def test_the_seed_calls_on_an_ocpp_default_charger(broker: Mosquitto) -> None:
    """REST waits for the session, as the seed's clients expect; charging/updates with a
    response topic answers pending, then the session."""
    async with ocpp_site(broker, chargers="", default_charger="LAB-1-1") as site:
        before = (await site.http.get("/api/chargers")).json()
        assert [(c["chargerId"], c["status"]) for c in before] == [("LAB-1-1", "Offline")]
        async with lab_charge_point(site.url, "LAB-1") as point:
            await seed_calls(site, point)


async def seed_calls(site: Site, point: LabChargePoint) -> None:
    """Start with the seed's REST call, stop with its MQTT message."""
    await ready(point, site)
    seed = asyncio.create_task(site.http.post("/api/ChargingSessionAPI/start"))
    await point.wait_for("RemoteStartTransaction")
    assert not seed.done()
    transaction_id = await start_transaction(point, 0)
    answer = await seed
    assert answer.status_code == 200
    assert answer.json()["transactionId"] == transaction_id

    correlation = await site.mqtt.ask(topics.SEED_CHARGING, b'{"status": "Stopped"}')
    (first,) = await site.mqtt.replies(correlation, 1)
    assert (first["pending"], first["action"], first["chargerId"]) == (True, "stop", "LAB-1-1")
    await point.wait_for("RemoteStopTransaction")
    await point.call(
        call.StopTransaction(
            meter_stop=2000, timestamp=now(), transaction_id=transaction_id, reason="Remote"
        )
    )
    _, final = await site.mqtt.replies(correlation, 2)
    assert final["session"]["transactionId"] == transaction_id
    assert final["session"]["stopReason"] == "Stopped by client"
