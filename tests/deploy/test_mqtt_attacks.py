"""Attacks through the repo's broker config: what a logged-in client sends never stops the daemon,
takes its client id, or reads another client's replies by borrowing its id.

Mosquitto binds no client id to a user: whoever presents an id in use takes over its session
and disconnects its owner. The daemon's id therefore carries a suffix only its password gives,
and reply branches name the user as well as the client id.
"""

import asyncio
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
from evcsm_daemon.mqtt.connection import client_id
from evcsm_schema import topics

from tests.deploy.clients import (
    MARKER_TOPIC,
    delivered,
    mqtt_client,
    role_client,
    role_clients,
)
from tests.deploy.deployed import deployed_daemon
from tests.deploy.deployment import DAEMON_USER, OPERATOR_USER, VIEWER_USER, Deployment
from tests.support.broker import Mosquitto
from tests.support.daemon import daemon_settings, running_daemon

pytestmark = pytest.mark.broker

CONFIGURED_ID = "evcsm-daemon"
"""The id docker-compose.yml configures, and the one an intruder would try."""
TAKEOVERS = 5


async def test_no_user_can_take_the_daemons_client_id(
    locked_broker: Mosquitto, deployment: Deployment
) -> None:
    settings = daemon_settings(
        f"mqtt://{DAEMON_USER}@127.0.0.1:{locked_broker.port}",
        mqtt_password=deployment.password(DAEMON_USER),
        mqtt_client_id=CONFIGURED_ID,
    )
    async with (
        role_clients(locked_broker.port, deployment, DAEMON_USER, VIEWER_USER) as clients,
        running_daemon(settings) as daemon,
    ):
        bridge = daemon.bridge
        assert bridge is not None
        assert bridge.client_id.startswith(f"{CONFIGURED_ID}-")
        watcher = clients[VIEWER_USER]
        await watcher.subscribe(topics.AVAILABILITY)
        await watcher.wait_for(b"online")
        for user in (VIEWER_USER, OPERATOR_USER, VIEWER_USER, OPERATOR_USER, VIEWER_USER):
            async with mqtt_client(
                locked_broker.port, user, deployment.password(user), CONFIGURED_ID
            ) as intruder:
                await intruder.publish(topics.SESSION_QUERY, b"{}", qos=1)
        # Whatever the intruders did reached the watcher before this marker does.
        marker = f"marker-{uuid.uuid4().hex}".encode()
        await clients[DAEMON_USER].publish(topics.SEED_CHARGING, marker)
        seen = await watcher.wait_for(marker)
        assert (topics.AVAILABILITY, b"offline") not in seen
        reply = await watcher.request(topics.SESSION_QUERY)
        assert reply["ok"] is True
        assert bridge.connects == 1


def test_the_daemons_client_id_takes_its_password_to_know() -> None:
    mine = client_id(CONFIGURED_ID, DAEMON_USER, "the daemon's password")
    assert mine == client_id(CONFIGURED_ID, DAEMON_USER, "the daemon's password")
    assert mine != client_id(CONFIGURED_ID, DAEMON_USER, "another password")
    assert mine != client_id(CONFIGURED_ID, VIEWER_USER, "the daemon's password")
    assert mine != client_id("evcsm-daemon-2", DAEMON_USER, "the daemon's password")
    assert len(mine) == len(CONFIGURED_ID) + 1 + 20
    assert client_id(CONFIGURED_ID, None, None) == CONFIGURED_ID


async def test_borrowing_a_client_id_does_not_read_its_replies(
    locked_broker: Mosquitto, deployment: Deployment
) -> None:
    async with role_clients(locked_broker.port, deployment, DAEMON_USER) as clients:
        async with role_client(locked_broker.port, deployment, OPERATOR_USER) as operator:
            victim = operator.client_id
            reply_to = topics.reply_topic(OPERATOR_USER, victim)
        # The viewer logs in with the operator's client id and reads every reply branch.
        async with role_client(locked_broker.port, deployment, VIEWER_USER, victim) as viewer:
            await viewer.subscribe(MARKER_TOPIC, f"{topics.REPLY_PREFIX}/#")
            clients[VIEWER_USER] = viewer
            assert not await delivered(clients, DAEMON_USER, VIEWER_USER, reply_to)
            # Its own user's branch under that id is its own, and it does read that.
            own = topics.reply_topic(VIEWER_USER, victim)
            assert await delivered(clients, DAEMON_USER, VIEWER_USER, own)


async def test_a_viewers_request_with_a_wildcard_response_topic_stops_nothing(
    deployment: Deployment, locked_broker: Mosquitto, daemon_image: Path
) -> None:
    with deployed_daemon(deployment, locked_broker, daemon_image) as daemon:
        assert daemon.proc is not None
        for response_topic in ("evcsm/replies/x/a+b", "evcsm/replies/x/#", "evcsm/replies//x/y"):
            sent = await asyncio.to_thread(
                subprocess.run,
                [
                    *("mosquitto_pub", "-V", "mqttv5", "-p", str(locked_broker.port)),
                    *("-u", VIEWER_USER, "-P", deployment.password(VIEWER_USER)),
                    *("-t", topics.SESSION_QUERY, "-m", "{}", "-q", "1"),
                    *("-D", "publish", "response-topic", response_topic),
                ],
                capture_output=True,
                text=True,
                check=False,
                timeout=30,
            )
            assert sent.returncode == 0, sent.stderr
        async with role_client(locked_broker.port, deployment, VIEWER_USER) as viewer:
            reply = await viewer.request(topics.SESSION_QUERY)
            assert reply["ok"] is True
            await viewer.subscribe(topics.AVAILABILITY)
            await viewer.wait_for(b"online")
        assert daemon.proc.poll() is None, daemon.output()
        async with httpx.AsyncClient(base_url=daemon.url, timeout=10) as http:
            assert (await http.get("/readyz")).status_code == 200
        assert "Traceback" not in daemon.output()
        refused = [
            line for line in daemon.output().splitlines() if "refused response topic" in line
        ]
        assert len(refused) == 3
