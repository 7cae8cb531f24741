"""The daemon as its image runs it: the entry point as a subprocess, with the image's and
compose's environment, from the image's virtual environment (`daemon_image`).

Only what cannot exist outside the compose network is changed: the broker address becomes the
locked-down test broker on loopback, the database the in-process store, the REST port a free
one. Credentials and the API token are the ones deploy/setup.sh generated.
"""

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.deploy.compose import DAEMON_ENVIRONMENT, container_environment
from tests.deploy.deployment import MQTT_PORT, Deployment
from tests.deploy.dockerfiles import image as final_stage
from tests.support.broker import Mosquitto, free_port

STARTUP_S = 60.0
IMAGE_VENV_BIN = "/opt/evcsm/bin"


def daemon_environment(
    deployment: Deployment, image: Path, broker_port: int, http_port: int
) -> dict[str, str]:
    """The image's ENV (its venv at `image`), then compose's `environment:`, then stand-ins."""
    env = final_stage("daemon").env()
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
        entry = final_stage("daemon").last("ENTRYPOINT").exec_form()
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
