"""The daemon as its image runs it: the entry point with the image's and compose's environment.

It runs from the image's virtual environment, built here by the Dockerfile's own build stage
(`daemon_image`): the pinned packages the image holds, nothing of the development environment.
Only what cannot exist outside the compose network is changed: the broker address becomes the
locked-down test broker on loopback, the database the in-process store, the REST port a free
one. Credentials and the API token are the ones deploy/setup.sh generated.
"""

import asyncio
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiomqtt
import httpx
import pytest
from evcsm_schema import Availability, CommandAction, SessionStatus, topics

from tests.deploy.clients import mqtt_client, role_client, role_clients
from tests.deploy.compose import DAEMON_ENVIRONMENT, container_environment, load_compose
from tests.deploy.deployment import (
    DAEMON_USER,
    MQTT_PORT,
    OPERATOR_USER,
    VIEWER_USER,
    Deployment,
    running_broker,
)
from tests.deploy.dockerfiles import DAEMON_DOCKERFILE, stages
from tests.support.broker import Mosquitto, free_port, wait_for_port

pytestmark = pytest.mark.broker

CHARGER = "CP1"
STARTUP_S = 60.0
SHUTDOWN_DEADLINE_S = 10.0
IMAGE_VENV_BIN = "/opt/evcsm/bin"


def daemon_environment(
    deployment: Deployment, image: Path, broker_port: int, http_port: int
) -> dict[str, str]:
    """The image's ENV (its venv at `image`), then compose's `environment:`, then stand-ins."""
    env = stages(DAEMON_DOCKERFILE)[-1].env()
    image_bin = str(image / "bin")
    env["PATH"] = env["PATH"].replace(IMAGE_VENV_BIN, image_bin).replace("$PATH", os.defpath)
    env |= container_environment(DAEMON_ENVIRONMENT, deployment.env)
    env["EVCSM_MQTT_URL"] = env["EVCSM_MQTT_URL"].replace(
        f"mosquitto:{MQTT_PORT}", f"127.0.0.1:{broker_port}"
    )
    env["EVCSM_MONGODB_URI"] = "memory"
    env["EVCSM_HTTP_ADDR"] = f"127.0.0.1:{http_port}"
    env["EVCSM_OCPP_ADDR"] = f"127.0.0.1:{free_port()}"  # the container's own port 9000 here
    return env


class DeployedDaemon:
    """The image's entry point as a subprocess, its output in a log file."""

    def __init__(
        self, deployment: Deployment, broker: Mosquitto, image: Path, **overrides: str
    ) -> None:
        self.http_port = free_port()
        self.env = daemon_environment(deployment, image, broker.port, self.http_port) | overrides
        self.token = deployment.env["EVCSM_API_TOKEN"]
        self.url = f"http://127.0.0.1:{self.http_port}"
        entry = stages(DAEMON_DOCKERFILE)[-1].last("ENTRYPOINT").exec_form()
        program = shutil.which(entry[0], path=self.env["PATH"])
        assert program, f"{entry[0]} is not on the image's PATH"
        assert Path(program).parent == image / "bin", f"{program} is not the image's"
        self.command = [program, *entry[1:]]
        self.log = Path(tempfile.mkstemp(prefix="evcsm-deployed-daemon-", suffix=".log")[1])
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until /readyz says the broker and the store are reachable."""
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"the daemon exited:\n{self.output()}"
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"not ready after {STARTUP_S} s:\n{self.output()}")

    def output(self) -> str:
        """What it printed so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """Kill it if it still runs, and remove its log."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.unlink(missing_ok=True)


@contextmanager
def deployed_daemon(
    deployment: Deployment, broker: Mosquitto, image: Path, **overrides: str
) -> Iterator[DeployedDaemon]:
    """A deployed daemon, ready; killed afterwards if it still runs."""
    running = DeployedDaemon(deployment, broker, image, **overrides)
    try:
        running.start()
        yield running
    finally:
        running.stop()


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
