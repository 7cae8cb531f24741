"""Stations over REST: the listing, and the operator's commands, answered by a real charge point."""

from typing import Any

import pytest
from ocpp.v16 import call

from tests.daemon.ocpp.peers import lab_charge_point
from tests.support.broker import Mosquitto
from tests.support.ocpp import ocpp_site, until

TOKEN = {"Authorization": "Bearer s3cret"}


async def test_stations_are_listed_with_what_they_told(broker: Mosquitto) -> None:
    async with ocpp_site(broker, ocpp_charge_points="LAB-1,LAB-2:pw", api_token="s3cret") as site:
        listed = (await site.http.get("/api/stations")).json()
        assert [(s["chargePointId"], s["connected"], s["chargers"]) for s in listed] == [
            ("LAB-1", False, []),
            ("LAB-2", False, []),
        ]
        async with lab_charge_point(site.url, "LAB-1") as point:
            await point.boot()
            await point.call(
                call.StatusNotification(connector_id=2, error_code="NoError", status="Available")
            )
            await until(lambda: "LAB-1-2" in site.service.charger_ids(), "the connector joined")
            station = (await site.http.get("/api/stations/LAB-1")).json()
            assert station["connected"] is True
            assert (station["vendor"], station["model"]) == ("EVCSM", "Lab")
            assert (station["serialNumber"], station["firmwareVersion"]) == ("SN-1", "1.2.3")
            assert station["lastMessageAt"].endswith("Z")
            assert station["chargers"] == ["LAB-1-2"]
        missing = await site.http.get("/api/stations/NOPE")
        assert (missing.status_code, missing.json()["code"]) == (404, "unknown_charger")


COMMANDS: list[tuple[str, dict[str, Any], str, dict[str, Any], str]] = [
    ("reset", {"type": "Hard"}, "Reset", {"type": "Hard"}, "Accepted"),
    (
        "change-configuration",
        {"key": "HeartbeatInterval", "value": "60"},
        "ChangeConfiguration",
        {"key": "HeartbeatInterval", "value": "60"},
        "Accepted",
    ),
    ("unlock-connector", {"connectorId": 1}, "UnlockConnector", {"connector_id": 1}, "Unlocked"),
    (
        "change-availability",
        {"connectorId": 0, "type": "Inoperative"},
        "ChangeAvailability",
        {"connector_id": 0, "type": "Inoperative"},
        "Scheduled",
    ),
    (
        "trigger-message",
        {"requestedMessage": "MeterValues", "connectorId": 1},
        "TriggerMessage",
        {"requested_message": "MeterValues", "connector_id": 1},
        "Accepted",
    ),
]


async def test_every_command_reaches_the_station_and_answers_its_word(broker: Mosquitto) -> None:
    async with (
        ocpp_site(broker, api_token="s3cret") as site,
        lab_charge_point(site.url, "LAB-1") as point,
    ):
        await point.boot()
        await point.wait_for("TriggerMessage")
        for path, body, action, sent, status in COMMANDS:
            before = len(point.got(action))
            answer = await site.http.post(f"/api/stations/LAB-1/{path}", json=body, headers=TOKEN)
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"chargePointId": "LAB-1", "action": action, "status": status}
            assert point.got(action)[before:] == [sent]
        config = await site.http.post(
            "/api/stations/LAB-1/get-configuration", json={"keys": ["Nope"]}, headers=TOKEN
        )
        assert config.json()["unknownKey"] == ["Nope"]
        assert point.got("GetConfiguration") == [{"key": ["Nope"]}]
        every = await site.http.post("/api/stations/LAB-1/get-configuration", headers=TOKEN)
        assert {k["key"] for k in every.json()["configurationKey"]} >= {"NumberOfConnectors"}
        assert point.got("GetConfiguration")[-1] == {}
        point.answers["Reset"] = "Rejected"
        rejected = await site.http.post(
            "/api/stations/LAB-1/reset", json={"type": "Soft"}, headers=TOKEN
        )
        assert rejected.json()["status"] == "Rejected"


BAD_BODIES: list[tuple[str, Any]] = [
    ("reset", {"type": "Harder"}),
    ("reset", {}),
    ("reset", ["Hard"]),
    ("change-configuration", {"key": "K" * 51, "value": "1"}),
    ("change-configuration", {"key": "", "value": "1"}),
    ("change-configuration", {"key": "K", "value": "v" * 501}),
    ("change-configuration", {"key": "K", "value": 5}),
    ("unlock-connector", {"connectorId": 0}),
    ("unlock-connector", {"connectorId": True}),
    ("unlock-connector", {"connectorId": 1.5}),
    ("change-availability", {"connectorId": 33, "type": "Operative"}),
    ("change-availability", {"connectorId": -1, "type": "Operative"}),
    ("trigger-message", {"requestedMessage": "StartTransaction"}),
    ("trigger-message", {"requestedMessage": "Heartbeat", "connectorId": "x"}),
    ("get-configuration", {"keys": ["k" * 51]}),
    ("get-configuration", {"keys": "HeartbeatInterval"}),
    ("get-configuration", {"keys": ["k"] * 101}),
]


async def test_bad_bodies_are_problems_and_send_nothing(broker: Mosquitto) -> None:
    async with (
        ocpp_site(broker, api_token="s3cret") as site,
        lab_charge_point(site.url, "LAB-1") as point,
    ):
        await point.boot()
        await point.wait_for("TriggerMessage")
        sent_before = len(point.received)
        for path, body in BAD_BODIES:
            answer = await site.http.post(f"/api/stations/LAB-1/{path}", json=body, headers=TOKEN)
            assert answer.status_code == 422, (path, body, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["code"] == "bad_request"
        raw = await site.http.post("/api/stations/LAB-1/reset", content=b"{not json", headers=TOKEN)
        assert raw.status_code == 422
        for station in ("bad id", "a/b", "-x", "x" * 49):
            odd = await site.http.post(
                f"/api/stations/{station}/reset", json={"type": "Hard"}, headers=TOKEN
            )
            assert odd.status_code in (404, 422), station
        unauthorised = await site.http.post("/api/stations/LAB-1/reset", json={"type": "Hard"})
        assert unauthorised.status_code == 401
        assert len(point.received) == sent_before


@pytest.mark.parametrize("answer", ["Bogus"])
async def test_a_station_error_is_charger_refused_and_an_absent_one_offline(
    broker: Mosquitto, answer: str
) -> None:
    async with ocpp_site(broker) as site:
        async with lab_charge_point(site.url, "LAB-1") as point:
            await point.boot()
            await point.wait_for("TriggerMessage")
            point.answers["Reset"] = answer  # not an OCPP status: its own library refuses it
            refused = await site.http.post("/api/stations/LAB-1/reset", json={"type": "Soft"})
            assert refused.status_code == 502, refused.text
            assert refused.json()["code"] == "charger_refused"
        await until(lambda: not site.service.station_views()[0][0].online, "offline")
        offline = await site.http.post("/api/stations/LAB-1/reset", json={"type": "Soft"})
        assert (offline.status_code, offline.json()["code"]) == (503, "charger_offline")
