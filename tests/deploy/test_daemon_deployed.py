"""The daemon as its image runs it: the entry point with the image's and compose's environment.

It runs from the image's virtual environment, built here by the Dockerfile's own build stage
(`daemon_image`): the pinned packages the image holds, nothing of the development environment.
Only what cannot exist outside the compose network is changed: the broker address becomes the
locked-down test broker on loopback, the database the in-process store, the REST port a free
one. Credentials and the API token are the ones deploy/setup.sh generated.
"""

import asyncio
import json
import shutil
import signal
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import httpx
import pytest
from evcsm_schema import Availability, CommandAction, SessionStatus, topics

from tests.deploy.clients import mqtt_client, role_client, role_clients
from tests.deploy.compose import load_compose
from tests.deploy.deployed import DeployedDaemon, deployed_daemon
from tests.deploy.deployment import (
    DAEMON_USER,
    OPERATOR_USER,
    VIEWER_USER,
    Deployment,
    running_broker,
)
from tests.support.broker import Mosquitto, free_port, wait_for_port

pytestmark = pytest.mark.broker

CHARGER = "CP1"
SHUTDOWN_DEADLINE_S = 10.0


@pytest.fixture
def fresh_daemon(
    deployment: Deployment, locked_broker: Mosquitto, daemon_image: Path
) -> Iterator[DeployedDaemon]:
    """A deployed daemon of this test's own."""
    with deployed_daemon(deployment, locked_broker, daemon_image) as running:
        yield running


@pytest.fixture(scope="module")
def daemon(
    deployment: Deployment, locked_broker: Mosquitto, daemon_image: Path
) -> Iterator[DeployedDaemon]:
    """One deployed daemon shared by this module's tests."""
    with deployed_daemon(deployment, locked_broker, daemon_image) as running:
        yield running


def test_health_and_readiness_answer(daemon: DeployedDaemon) -> None:
    health = httpx.get(f"{daemon.url}/healthz", timeout=10)
    ready = httpx.get(f"{daemon.url}/readyz", timeout=10)
    assert health.status_code == 200
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "broker": True, "database": True}


def test_it_logs_json_lines_to_stdout(daemon: DeployedDaemon) -> None:
    lines = [line for line in daemon.output().splitlines() if line.strip()]
    assert lines
    records = [json.loads(line) for line in lines]
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records), records
    assert any("connected to MQTT broker" in r["message"] for r in records)
    assert daemon.env["EVCSM_MQTT_PASSWORD"] not in daemon.output()


async def test_an_operator_command_is_answered_through_the_locked_down_broker(
    daemon: DeployedDaemon, deployment: Deployment, locked_broker: Mosquitto
) -> None:
    async with role_clients(locked_broker.port, deployment, OPERATOR_USER, VIEWER_USER) as c:
        operator, viewer = c[OPERATOR_USER], c[VIEWER_USER]
        await viewer.subscribe(topics.charger_state(CHARGER))
        started = await operator.request(topics.charger_command(CHARGER, CommandAction.START))
        assert started["ok"] is True
        assert started["session"]["status"] == SessionStatus.CHARGING
        await viewer.wait_until(
            lambda topic, body: (
                topic == topics.charger_state(CHARGER) and json.loads(body)["status"] == "Charging"
            )
        )
        stopped = await operator.request(topics.charger_command(CHARGER, CommandAction.STOP))
        assert stopped["ok"] is True
        assert stopped["session"]["sessionId"] == started["session"]["sessionId"]
        assert stopped["session"]["status"] == SessionStatus.STOPPED


async def test_a_viewer_may_query_history_but_its_commands_never_arrive(
    daemon: DeployedDaemon, deployment: Deployment, locked_broker: Mosquitto
) -> None:
    async with role_client(locked_broker.port, deployment, VIEWER_USER) as viewer:
        await viewer.publish(topics.charger_command(CHARGER, CommandAction.START), b"{}")
        await viewer.publish(topics.SEED_CHARGING, b'{"status":"Charging"}')
        reply = await viewer.request(topics.SESSION_QUERY, b'{"status":"Charging"}')
    assert reply["ok"] is True
    assert reply["page"]["items"] == []
    async with httpx.AsyncClient(base_url=daemon.url, timeout=10) as http:
        state = (await http.get(f"/api/chargers/{CHARGER}")).json()
    assert state["status"] == "Idle"


def test_rest_changes_need_the_token_setup_generated(daemon: DeployedDaemon) -> None:
    start = f"{daemon.url}/api/chargers/{CHARGER}/start"
    stop = f"{daemon.url}/api/chargers/{CHARGER}/stop"
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        refused = httpx.post(start, headers=headers, timeout=10)
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert httpx.get(f"{daemon.url}/api/chargers", timeout=10).status_code == 200
    bearer = {"Authorization": f"Bearer {daemon.token}"}
    assert httpx.post(start, headers=bearer, timeout=10).status_code in {200, 201}
    assert httpx.post(stop, headers=bearer, timeout=10).status_code == 200


def test_the_compose_health_check_passes_on_the_running_daemon(daemon: DeployedDaemon) -> None:
    kind, *command = load_compose()["services"]["daemon"]["healthcheck"]["test"]
    assert kind == "CMD"
    local = [word.replace(":5274/", f":{daemon.http_port}/") for word in command]
    program = shutil.which(local[0], path=daemon.env["PATH"])
    assert program
    assert subprocess.run([program, *local[1:]], check=False, timeout=60).returncode == 0
    elsewhere = [word.replace(f":{daemon.http_port}/", f":{free_port()}/") for word in local]
    assert subprocess.run([program, *elsewhere[1:]], check=False, timeout=60).returncode != 0


async def test_sigterm_stops_it_cleanly_within_ten_seconds(
    fresh_daemon: DeployedDaemon, deployment: Deployment, locked_broker: Mosquitto
) -> None:
    assert fresh_daemon.proc is not None
    async with role_client(locked_broker.port, deployment, VIEWER_USER) as viewer:
        await viewer.subscribe(topics.AVAILABILITY)
        await viewer.wait_for(Availability.ONLINE.value.encode())
        fresh_daemon.proc.send_signal(signal.SIGTERM)
        returncode = await asyncio.to_thread(fresh_daemon.proc.wait, SHUTDOWN_DEADLINE_S)
        assert returncode == 0, fresh_daemon.output()
        await viewer.wait_for(Availability.OFFLINE.value.encode())
    assert "Traceback" not in fresh_daemon.output()


@pytest.fixture
def tls_broker(deployment: Deployment) -> Iterator[tuple[Mosquitto, int, Path]]:
    """The repo's broker config with its TLS block switched on: (broker, TLS port, CA file)."""
    tls_port = free_port()
    with running_broker(deployment, tls_port=tls_port) as (broker, files):
        wait_for_port(tls_port)
        yield broker, tls_port, files / "certs" / "ca.crt"


async def test_over_tls_with_the_ca_file_it_works_end_to_end(
    deployment: Deployment, tls_broker: tuple[Mosquitto, int, Path], daemon_image: Path
) -> None:
    broker, tls_port, ca_file = tls_broker
    tls = {
        "EVCSM_MQTT_URL": f"mqtts://{DAEMON_USER}@localhost:{tls_port}",
        "EVCSM_MQTT_CA_FILE": str(ca_file),
    }
    with deployed_daemon(deployment, broker, daemon_image, **tls) as running:
        assert f"mqtts://localhost:{tls_port}" in running.output()
        async with role_client(broker.port, deployment, OPERATOR_USER) as operator:
            reply = await operator.request(topics.charger_command(CHARGER, CommandAction.START))
        assert reply["ok"] is True
    # The broker's certificate is not one the system trusts: without the CA file, no connection.
    password = deployment.password(DAEMON_USER)
    system_cas = ssl.create_default_context()
    with pytest.raises(aiomqtt.MqttError):
        async with mqtt_client(tls_port, DAEMON_USER, password, "no-ca", system_cas):
            pass
