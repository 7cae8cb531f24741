"""The daemon on a real Mosquitto: seed clients, request/response, retained state, bad input."""

import asyncio
import json
from datetime import datetime

import aiomqtt
import pytest
from evcsm_daemon.mqtt.inbox import Inbox
from evcsm_daemon.runtime import Daemon
from evcsm_link.requests import request_properties
from evcsm_schema import SessionQuery, topics
from evcsm_schema.requests import ReplyPath

from tests.support.broker import Mosquitto
from tests.support.daemon import daemon_settings, running_daemon
from tests.support.mqtt import probe
from tests.support.process import eventually

SPEED = 60.0
CP1_KW = 22.0


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def kwh_expected(seconds: float, kw: float = CP1_KW) -> float:
    """Energy at full power after `seconds` of real time at the test's clock speed-up."""
    return kw * seconds * SPEED / 3600


async def count_sessions(daemon: Daemon) -> int:
    assert daemon.service is not None
    return (await daemon.service.store.query(SessionQuery())).total


async def has_energy(daemon: Daemon, charger_id: str) -> bool:
    """Whether the charger's active session has metered any energy yet."""
    assert daemon.service is not None
    return any(
        s.charger_id == charger_id and s.energy_consumed > 0
        for s in daemon.service.active_sessions()
    )


async def inbox_counted(inbox: Inbox, count: int) -> bool:
    """Whether the daemon has handled `count` messages in all."""
    return inbox.handled >= count


async def test_seed_frontend_flow(broker: Mosquitto) -> None:
    async with (
        running_daemon(daemon_settings(broker.url)),
        probe(broker.port, topics.SEED_CHARGING, topics.SEED_SESSION) as ui,
    ):
        loop = asyncio.get_running_loop()
        await ui.client.publish(topics.SEED_CHARGING, b'{"status":"Charging"}', qos=1)
        started = await ui.wait_for(
            lambda m: m.topic == topics.SEED_CHARGING and "sessionId" in m.json()
        )
        event = started.json()
        assert event["status"] == "Charging"
        assert event["chargerId"] == "CP1"
        began = loop.time()

        first = await ui.wait_for(lambda m: m.topic == topics.SEED_SESSION)

        def metered_s(update: dict[str, str]) -> float:
            return (
                parse_time(update["timestamp"]) - parse_time(event["startTime"])
            ).total_seconds()

        # Five 0.2 s ticks, over more than a second of metering.
        await ui.wait_for(
            lambda m: (
                m.topic == topics.SEED_SESSION
                and metered_s(m.json()) > 1.0
                and len(ui.on(topics.SEED_SESSION)) >= 5
            )
        )
        updates = [m.json() for m in ui.on(topics.SEED_SESSION)]
        assert len(updates) >= 5  # 0.2 s ticks for 2 s
        energies = [u["energyConsumed"] for u in updates]
        assert energies == sorted(energies)
        last = updates[-1]
        assert last["sessionId"] == event["sessionId"]
        assert last["status"] == "Charging"
        assert last["powerKw"] == CP1_KW
        assert set(last) == {
            "sessionId",
            "chargerId",
            "status",
            "energyConsumed",
            "powerKw",
            "meterWh",
            "timestamp",
        }
        # Energy is power x simulated time since the start, exact to the Wh.
        metered = metered_s(last)
        assert last["energyConsumed"] == pytest.approx(kwh_expected(metered), abs=0.0015)
        assert 1.0 < metered < loop.time() - began + 1.0
        assert first.json()["energyConsumed"] <= last["energyConsumed"]

        await ui.client.publish(topics.SEED_CHARGING, b'{"status":"Stopped","endTime":"x"}', qos=1)
        stopped = await ui.wait_for(
            lambda m: (
                m.topic == topics.SEED_CHARGING
                and m.json().get("status") == "Stopped"
                and "sessionId" in m.json()
            )
        )
        assert stopped.json()["sessionId"] == event["sessionId"]
        assert stopped.json()["energyConsumed"] >= last["energyConsumed"]
        assert "endTime" in stopped.json()
        assert stopped.json()["reason"] == "Stopped by client"


async def test_the_seed_last_will_stops_the_session(broker: Mosquitto) -> None:
    will = aiomqtt.Will(
        topics.SEED_CHARGING, b'{"status":"Stopped","reason":"Unexpected Disconnect"}', qos=1
    )
    async with (
        running_daemon(daemon_settings(broker.url)) as daemon,
        probe(broker.port, topics.SEED_CHARGING) as watcher,
    ):
        assert daemon.service is not None
        frontend = aiomqtt.Client(
            "127.0.0.1", broker.port, identifier="seed-ui", will=will, keepalive=1
        )
        await frontend.__aenter__()
        await frontend.publish(topics.SEED_CHARGING, b'{"status":"Charging"}', qos=1)
        await watcher.wait_for(
            lambda m: (
                m.topic == topics.SEED_CHARGING
                and m.json().get("status") == "Charging"
                and "sessionId" in m.json()
            )
        )
        # Drop the connection without DISCONNECT, as a crashed browser tab would.
        frontend._client._sock_close()
        stopped = await watcher.wait_for(
            lambda m: (
                m.topic == topics.SEED_CHARGING
                and m.json().get("status") == "Stopped"
                and "sessionId" in m.json()
            )
        )
        assert stopped.json()["reason"] == "Unexpected Disconnect"
        assert daemon.service.active_sessions() == []


async def test_request_response_commands(broker: Mosquitto) -> None:
    async with (
        running_daemon(daemon_settings(broker.url)) as daemon,
        probe(broker.port) as operator,
    ):
        start = await operator.request("evcsm/chargers/CP2/cmd/start")
        assert start["ok"] is True
        assert start["action"] == "start"
        assert start["session"]["chargerId"] == "CP2"
        again = await operator.request("evcsm/chargers/CP2/cmd/start", b"")
        assert again["session"]["sessionId"] == start["session"]["sessionId"]
        await eventually("CP2 metered some energy", lambda: has_energy(daemon, "CP2"))
        stop = await operator.request("evcsm/chargers/CP2/cmd/stop", b'{"reason":"Operator"}')
        assert stop["ok"] is True
        assert stop["session"]["status"] == "Stopped"
        assert stop["session"]["stopReason"] == "Operator"
        assert stop["session"]["energyConsumed"] > 0
        idle = await operator.request("evcsm/chargers/CP2/cmd/stop")
        assert idle == {
            "ok": False,
            "chargerId": "CP2",
            "action": "stop",
            "error": {"code": "no_active_session", "message": "no active session on charger 'CP2'"},
        }
        history = await operator.request(topics.SESSION_QUERY, b'{"chargerId":"CP2"}')
        assert history["ok"] is True
        assert history["page"]["total"] == 1
        assert history["page"]["items"][0]["sessionId"] == start["session"]["sessionId"]
        assert await count_sessions(daemon) == 1


async def test_retained_state_for_late_clients(broker: Mosquitto) -> None:
    async with running_daemon(daemon_settings(broker.url)), probe(broker.port) as operator:
        started = await operator.request("evcsm/chargers/CP1/cmd/start")
        # Retained by the broker before it delivers it to anyone: a late client then gets it.
        async with probe(broker.port, topics.charger_state("CP1")) as early:
            await early.wait_for(lambda m: m.json()["status"] == "Charging")
        async with probe(broker.port, topics.CHARGER_STATE_ALL, topics.AVAILABILITY) as late:
            cp1 = await late.wait_for(lambda m: m.topic == topics.charger_state("CP1"))
            cp2 = await late.wait_for(lambda m: m.topic == topics.charger_state("CP2"))
            online = await late.wait_for(lambda m: m.topic == topics.AVAILABILITY)
        assert cp1.retain
        assert cp2.retain
        assert online.retain
        assert online.payload == b"online"
        assert cp1.json()["status"] == "Charging"
        assert cp1.json()["session"]["sessionId"] == started["session"]["sessionId"]
        assert cp2.json() == {
            **cp2.json(),
            "status": "Idle",
            "chargerId": "CP2",
            "maxPowerKw": 11.0,
        }


async def test_availability_goes_offline_on_shutdown(broker: Mosquitto) -> None:
    async with probe(broker.port, topics.AVAILABILITY) as watcher:
        async with running_daemon(daemon_settings(broker.url)):
            await watcher.wait_for(lambda m: m.payload == b"online")
        offline = await watcher.wait_for(lambda m: m.payload == b"offline")
        assert offline.topic == topics.AVAILABILITY


async def test_the_daemon_ignores_its_own_and_other_daemons_events(broker: Mosquitto) -> None:
    async with running_daemon(daemon_settings(broker.url)) as daemon, probe(broker.port) as other:
        event = {
            "status": "Charging",
            "sessionId": "0f0e",
            "chargerId": "CP1",
            "startTime": "2026-01-01T00:00:00Z",
            "energyConsumed": 0,
        }
        assert daemon.bridge is not None
        inbox = daemon.bridge.inbox
        handled = inbox.handled
        await other.client.publish(topics.SEED_CHARGING, json.dumps(event), qos=1)
        # A marker after it, on the same topic: a stop, which the event would have made stop a
        # session. Once the marker is answered and both are counted, the event was handled.
        marker = await other.request(topics.SEED_CHARGING, b'{"status":"Stopped"}')
        assert marker["error"]["code"] == "no_active_session"
        await eventually("both handled", lambda: inbox_counted(inbox, handled + 2))
        assert await count_sessions(daemon) == 0


BAD_COMMANDS = [
    (topics.SEED_CHARGING, b"not json", "bad_request", "Invalid JSON"),
    (topics.SEED_CHARGING, b'{"status":"Paused"}', "bad_request", "status"),
    (topics.SEED_CHARGING, b'{"status":1}', "bad_request", "status"),
    (topics.SEED_CHARGING, b"[]", "bad_request", "SeedCommand"),
    (topics.SEED_CHARGING, b'{"status":"Stopped"}', "no_active_session", "no active session"),
    ("evcsm/chargers/CP1/cmd/start", b'{"status":', "bad_request", "Invalid JSON"),
    ("evcsm/chargers/CP1/cmd/start", b'"start"', "bad_request", "CommandRequest"),
    (
        "evcsm/chargers/CP1/cmd/start",
        b'{"reason":' + b'"x' * 9000 + b'"}',
        "payload_too_large",
        "over",
    ),
    ("evcsm/chargers/CP1/cmd/reboot", b"{}", "bad_request", "unknown action"),
    ("evcsm/chargers/NOPE/cmd/start", b"{}", "unknown_charger", "'NOPE'"),
    # An empty id is no charger at all, not the default one.
    ("evcsm/chargers//cmd/start", b"{}", "unknown_charger", "''"),
    ("evcsm/chargers//cmd/stop", b"{}", "unknown_charger", "''"),
    ("evcsm/chargers/CP1/cmd/stop", b"\xff\xfe", "bad_request", "Invalid"),
    (topics.SESSION_QUERY, b'{"limit":0}', "bad_request", "limit"),
    (topics.SESSION_QUERY, b'{"status":"Gone"}', "bad_request", "status"),
    (topics.SESSION_QUERY, b'{"chargerId":"NOPE"}', "unknown_charger", "NOPE"),
    (topics.SESSION_QUERY, b'{"since":"noon"}', "bad_request", "since"),
]


async def test_bad_input_gets_a_clear_error_and_writes_nothing(broker: Mosquitto) -> None:
    async with running_daemon(daemon_settings(broker.url)) as daemon, probe(broker.port) as client:
        for topic, payload, code, words in BAD_COMMANDS:
            reply = await client.request(topic, payload)
            assert reply["ok"] is False, (topic, payload)
            assert reply["error"]["code"] == code, (topic, payload, reply)
            assert words in reply["error"]["message"], (topic, payload, reply)
        assert await count_sessions(daemon) == 0
        still = await client.request("evcsm/chargers/CP1/cmd/start")
        assert still["ok"] is True  # the daemon kept running


async def test_seed_commands_without_a_reply_path_are_logged_once(
    broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_daemon(daemon_settings(broker.url)) as daemon, probe(broker.port) as client:
        await client.client.publish(topics.SEED_CHARGING, b"{{{", qos=1)
        await client.client.publish(topics.SEED_CHARGING, b'{"status":"Charging"}', qos=1)

        async def one_session() -> bool:
            return await count_sessions(daemon) == 1

        await eventually("the start stored", one_session)
        assert await count_sessions(daemon) == 1
    rejected = [
        r for r in caplog.records if "rejected message on charging/updates" in r.getMessage()
    ]
    assert len(rejected) == 1


async def test_replies_only_go_to_reply_topics(broker: Mosquitto) -> None:
    """A request cannot make the daemon publish on a state topic (or anywhere but a reply branch)."""
    async with (
        running_daemon(daemon_settings(broker.url)) as daemon,
        probe(broker.port, topics.CHARGER_STATE_ALL, "forged/#") as client,
    ):
        await client.wait_for(lambda m: m.topic == topics.charger_state("CP1"))
        for forged in (topics.charger_state("CP1"), "forged/place"):
            properties = request_properties(ReplyPath(forged))
            await client.client.publish(topics.SESSION_QUERY, b"{}", qos=1, properties=properties)
        # The daemon still carries out a request whose reply path it refuses; a start proves order.
        started = await client.request("evcsm/chargers/CP1/cmd/start")
        assert started["ok"] is True
        await client.wait_for(
            lambda m: m.topic == topics.charger_state("CP1") and m.json()["status"] == "Charging"
        )
        state_payloads = [m.json() for m in client.on(topics.charger_state("CP1"))]
        assert all("chargerId" in p and "ok" not in p for p in state_payloads)
        assert client.on("forged/place") == []
        assert daemon.service is not None
