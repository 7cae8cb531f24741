"""What docker-compose.yml gives the daemon, and Compose's variable interpolation.

`DAEMON_ENVIRONMENT` is the daemon service's `environment:` as the file must hold it (a test
compares the two): the contract the daemon is started with here. A `None` value passes the
variable on from .env when it is set there, and leaves it unset otherwise.
"""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no type information

from tests.deploy.deployment import COMPOSE_FILE

SETUP_FIRST = "run deploy/setup.sh first"
DAEMON_ENVIRONMENT: dict[str, str | None] = {
    "EVCSM_MQTT_URL": "mqtt://evcsm-daemon@mosquitto:1883",
    "EVCSM_MQTT_PASSWORD": f"${{MQTT_DAEMON_PASSWORD:?{SETUP_FIRST}}}",
    "EVCSM_MQTT_CLIENT_ID": "evcsm-daemon",
    "EVCSM_MONGODB_URI": (
        f"mongodb://${{MONGO_USERNAME:-evcsm}}:${{MONGO_PASSWORD:?{SETUP_FIRST}}}"
        "@mongo:27017/evcsm?authSource=admin"
    ),
    "EVCSM_HTTP_ADDR": "0.0.0.0:5274",
    "EVCSM_API_TOKEN": f"${{EVCSM_API_TOKEN:?{SETUP_FIRST}}}",
    "EVCSM_CHARGERS": "${EVCSM_CHARGERS:-CP1:22}",
    "EVCSM_SIM_SPEED": "${EVCSM_SIM_SPEED:-1}",
    "EVCSM_TICK_INTERVAL": "${EVCSM_TICK_INTERVAL:-1}",
    "EVCSM_LOG_FORMAT": "${EVCSM_LOG_FORMAT:-json}",
    "EVCSM_LOG_LEVEL": "${EVCSM_LOG_LEVEL:-INFO}",
    "EVCSM_ALLOWED_HOSTS": None,
    "EVCSM_ALLOWED_ORIGINS": None,
    "EVCSM_OCPP_ADDR": "0.0.0.0:9000",
    "EVCSM_OCPP_CHARGE_POINTS": None,
    "EVCSM_OCPP_METER_INTERVAL": "${EVCSM_OCPP_METER_INTERVAL:-10}",
    "EVCSM_OCPP_HEARTBEAT_INTERVAL": "${EVCSM_OCPP_HEARTBEAT_INTERVAL:-300}",
    "EVCSM_OCPP_CERT_FILE": None,
    "EVCSM_OCPP_KEY_FILE": None,
    "EVCSM_DEFAULT_CHARGER": None,
}
VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}")


def interpolate(value: str, env: dict[str, str]) -> str:
    """`${VAR}`, `${VAR:-default}` and `${VAR:?error}` as Compose resolves them."""

    def resolve(match: re.Match[str]) -> str:
        found = env.get(match["name"], "")
        if found:
            return found
        if match["op"] == ":?":
            raise ValueError(f"{match['name']}: {match['arg']}")
        return match["arg"] or ""

    return VARIABLE.sub(resolve, value)


def container_environment(
    environment: dict[str, str | None], env: dict[str, str]
) -> dict[str, str]:
    """A service's `environment:` as its container gets it, with `env` (.env) as Compose's."""
    resolved: dict[str, str] = {}
    for key, value in environment.items():
        if value is not None:
            resolved[key] = interpolate(value, env)
        elif key in env:
            resolved[key] = env[key]
    return resolved


def passed_on(environment: dict[str, str | None]) -> set[str]:
    """The variables an `environment:` passes on from .env by name."""
    return {key for key, value in environment.items() if value is None}


def variables(text: str) -> set[str]:
    """Names of the variables `text` interpolates."""
    return {match["name"] for match in VARIABLE.finditer(text)}


def docker_compose() -> str:
    """The docker-compose program, or skip: Debian's docker-compose validates without an engine."""
    found = shutil.which("docker-compose")
    if found is None:
        pytest.skip("docker-compose is not installed (Debian: apt-get install docker-compose)")
    return found


def compose_config(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`docker-compose -f docker-compose.yml config ARGS` in `folder`."""
    return subprocess.run(
        [docker_compose(), "-f", "docker-compose.yml", "config", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def load_compose() -> dict[str, Any]:
    """docker-compose.yml as written (not interpolated)."""
    loaded = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded
