"""docker-compose.yml: it validates, and it holds what a deployment needs."""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no type information

from tests.deploy.compose import (
    DAEMON_ENVIRONMENT,
    SETUP_FIRST,
    compose_config,
    load_compose,
    passed_on,
    variables,
)
from tests.deploy.deployment import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    MOSQUITTO_CONF,
    MQTT_PORT,
    SETUP,
    TLS_PORT,
    WEBSOCKETS_PORT,
    Deployment,
    read_env,
)
from tests.support.broker import Mosquitto, free_port

LONG_RUNNING = ("mosquitto", "mongo", "daemon")
# Read from the operator's terminal, not from .env.
TERMINAL_VARIABLES = {"TERM", "COLORTERM"}
REFERENCE = re.compile(r"\$\{\w+:\?[^}]+\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file as written."""
    return load_compose()


def service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    """One service's definition."""
    found: dict[str, Any] = compose["services"][name]
    return found


def test_it_validates_with_the_env_setup_generates(deployment: Deployment) -> None:
    done = compose_config(deployment.root, "-q")
    assert done.returncode == 0, done.stderr


def test_without_env_it_refuses_and_says_to_run_setup(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_bytes(COMPOSE_FILE.read_bytes())
    done = compose_config(tmp_path, "-q")
    assert done.returncode != 0
    assert SETUP_FIRST in done.stderr


def test_every_variable_is_documented_in_the_example(compose: dict[str, Any]) -> None:
    used = variables(COMPOSE_FILE.read_text(encoding="utf-8")) - TERMINAL_VARIABLES
    documented = set(read_env(ENV_EXAMPLE))
    assert used <= documented
    # Passed on only when set: the example shows them commented out, with what they mean.
    example = ENV_EXAMPLE.read_text(encoding="utf-8")
    for name in passed_on(service(compose, "daemon")["environment"]):
        assert re.search(rf"(?m)^#{name}=", example), f"{name}: document it in .env.example"
    setup = SETUP.read_text(encoding="utf-8")
    for name in documented - used:
        assert f" {name})" in setup, f"{name} is documented but neither compose nor setup reads it"


def test_pulled_images_are_pinned(compose: dict[str, Any]) -> None:
    images = {name: s["image"] for name, s in compose["services"].items() if "build" not in s}
    assert re.fullmatch(r"eclipse-mosquitto:2\.0\.\d+", images.pop("mosquitto"))
    assert re.fullmatch(r"mongo:[78]\.\d+(\.\d+)?", images.pop("mongo"))
    assert not images, f"pin these too: {images}"
    for name, definition in compose["services"].items():
        tag = definition["image"].rpartition(":")[2]
        assert tag not in {"", "latest"}, f"{name}: {definition['image']}"
        assert "/" not in tag, f"{name}: {definition['image']} has no tag"


def test_built_images_come_from_the_repo_root_and_their_dockerfile(
    compose: dict[str, Any],
) -> None:
    for name in ("daemon", "tui"):
        build = service(compose, name)["build"]
        assert build == {
            "context": ".",
            "dockerfile": "Dockerfile",
            "target": name,
            "args": {"PACKAGE": name},
        }
        assert (COMPOSE_FILE.parent / build["dockerfile"]).is_file()


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_restart_and_report_health(
    compose: dict[str, Any], name: str
) -> None:
    definition = service(compose, name)
    assert definition["restart"] == "unless-stopped"
    check = definition["healthcheck"]
    assert check["test"][0] in {"CMD", "CMD-SHELL"}
    assert {"interval", "timeout", "retries"} <= set(check)


def test_the_daemon_starts_after_a_healthy_broker_and_database(compose: dict[str, Any]) -> None:
    daemon = service(compose, "daemon")
    assert daemon["depends_on"] == {
        "mosquitto": {"condition": "service_healthy"},
        "mongo": {"condition": "service_healthy"},
    }
    assert "/readyz" in " ".join(daemon["healthcheck"]["test"])
    assert daemon["ports"] == [
        "${HOST_BIND:-127.0.0.1}:${HOST_HTTP_PORT:-5274}:5274",
        "${HOST_OCPP_BIND:-127.0.0.1}:${HOST_OCPP_PORT:-9000}:9000",
    ]
    # Longer than the 10 s the daemon takes at most to stop on SIGTERM.
    assert int(daemon["stop_grace_period"].removesuffix("s")) > 10


def test_the_daemon_is_configured_only_through_its_environment(compose: dict[str, Any]) -> None:
    daemon = service(compose, "daemon")
    assert daemon["environment"] == DAEMON_ENVIRONMENT
    assert not {"command", "entrypoint", "env_file"} & set(daemon)


def test_the_dashboard_runs_on_demand_as_the_operator(compose: dict[str, Any]) -> None:
    tui = service(compose, "tui")
    assert tui["profiles"], "a profile keeps it out of `docker compose up`"
    assert tui["restart"] == "no"
    assert tui["stdin_open"] is True
    assert tui["tty"] is True
    assert tui["depends_on"] == {"mosquitto": {"condition": "service_healthy"}}
    assert tui["environment"]["EVCSM_MQTT_URL"] == "mqtt://evcsm-operator@mosquitto:1883"
    assert tui["environment"]["EVCSM_MQTT_PASSWORD"] == (
        f"${{MQTT_OPERATOR_PASSWORD:?{SETUP_FIRST}}}"
    )


def test_state_lives_on_named_volumes(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    data_dirs = {"mosquitto": "/mosquitto/data", "mongo": "/data/db"}
    for name, data_dir in data_dirs.items():
        mounts = dict(v.split(":")[1::-1] for v in service(compose, name)["volumes"])
        assert mounts[data_dir] in declared, f"{name}: {data_dir} on a named volume"
    used = {v.split(":")[0] for s in compose["services"].values() for v in s.get("volumes", [])}
    assert declared <= used


def test_the_broker_mounts_every_file_its_config_names_read_only(
    compose: dict[str, Any],
) -> None:
    mounts = {}
    for volume in service(compose, "mosquitto")["volumes"]:
        source, target, *mode = volume.split(":")
        mounts[target] = (source, mode)
    assert mounts["/mosquitto/config/mosquitto.conf"] == ("./mosquitto.conf", ["ro"])
    assert mounts["/mosquitto/config/mosquitto.acl"] == ("./mosquitto.acl", ["ro"])
    assert mounts["/mosquitto/config/passwd"] == ("./deploy/secrets/mosquitto.passwd", ["ro"])
    conf_paths = re.findall(r"(/mosquitto/\S+)", MOSQUITTO_CONF.read_text(encoding="utf-8"))
    for path in conf_paths:
        assert any(path.startswith(target) for target in mounts), f"{path} is not mounted"


def test_mongo_is_reachable_only_inside_the_compose_network(compose: dict[str, Any]) -> None:
    assert "ports" not in service(compose, "mongo")
    published = [p for s in compose["services"].values() for p in s.get("ports", [])]
    assert all(not p.endswith(":27017") for p in published)


def test_no_secret_is_written_in_the_file(compose: dict[str, Any]) -> None:
    for name, definition in compose["services"].items():
        for key, value in definition.get("environment", {}).items():
            if value is None:  # passed on from .env, where it may be set
                continue
            if re.search(r"PASSWORD|TOKEN|SECRET|KEY", key):
                assert REFERENCE.fullmatch(value), f"{name}.{key}: a required ${{VAR:?...}}"
            for userinfo in re.findall(r"://([^/@]*)@", value):
                _, _, password = userinfo.partition(":")
                assert not password or REFERENCE.fullmatch(password), f"{name}.{key}"


def broker_health_check(compose: dict[str, Any], port: int) -> int:
    """Run the broker service's health check here, against `port`; its exit status."""
    kind, command = service(compose, "mosquitto")["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    local = command.replace("$$", "$").replace(f"-p {MQTT_PORT}", f"-p {port}")
    return subprocess.run(["sh", "-c", local], check=False, timeout=60).returncode


def test_the_broker_health_check_passes_on_the_locked_down_broker(
    compose: dict[str, Any], locked_broker: Mosquitto
) -> None:
    assert broker_health_check(compose, locked_broker.port) == 0


def test_the_broker_health_check_fails_on_an_open_broker_and_on_none(
    compose: dict[str, Any], broker: Mosquitto
) -> None:
    assert broker_health_check(compose, broker.port) != 0
    assert broker_health_check(compose, free_port()) != 0


def test_the_broker_serves_mqtt_websockets_and_tls_on_the_published_ports(
    compose: dict[str, Any],
) -> None:
    # Debian's Mosquitto has no websockets, so this listener is checked here, not run.
    conf = MOSQUITTO_CONF.read_text(encoding="utf-8")
    assert re.search(rf"(?m)^listener {WEBSOCKETS_PORT}\nprotocol websockets$", conf)
    assert re.search(rf"(?m)^listener {MQTT_PORT}\nprotocol mqtt$", conf)
    assert re.search(rf"(?m)^#?listener {TLS_PORT}\n#?protocol mqtt$", conf)
    assert service(compose, "mosquitto")["ports"] == [
        f"${{HOST_BIND:-127.0.0.1}}:${{HOST_MQTT_PORT:-{MQTT_PORT}}}:{MQTT_PORT}",
        f"${{HOST_BIND:-127.0.0.1}}:${{HOST_MQTT_WS_PORT:-{WEBSOCKETS_PORT}}}:{WEBSOCKETS_PORT}",
        f"${{HOST_MQTT_TLS_BIND:-127.0.0.1}}:${{HOST_MQTT_TLS_PORT:-{TLS_PORT}}}:{TLS_PORT}",
    ]


def published(config: dict[str, Any]) -> dict[str, list[tuple[str, int]]]:
    """Each service's published ports as (host address, host port), from `config` output."""
    found: dict[str, list[tuple[str, int]]] = {}
    for name, definition in config["services"].items():
        for port in definition.get("ports", []):
            if isinstance(port, dict):  # Compose 2's long form
                address, number = port.get("host_ip", ""), str(port["published"])
            else:  # Compose 1.29: "address:published:target/protocol"
                address, number, _ = port.split(":")
            found.setdefault(name, []).append((address, int(number)))
    return found


def test_every_port_is_published_on_loopback_alone_by_default(deployment: Deployment) -> None:
    done = compose_config(deployment.root)
    assert done.returncode == 0, done.stderr
    ports = published(yaml.safe_load(done.stdout))
    assert set(ports) == {"mosquitto", "daemon"}
    for name, bindings in ports.items():
        for address, number in bindings:
            assert address == "127.0.0.1", f"{name}: port {number} is published on {address!r}"
    # Without the lines in .env, the file's own defaults are loopback too.
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    defaults = re.findall(r'- "\$\{HOST_\w*BIND:-([^}]*)\}:', text)
    assert defaults
    assert set(defaults) == {"127.0.0.1"}


def test_opening_a_site_address_publishes_tls_there_and_nothing_plain(
    deployment: Deployment, tmp_path: Path
) -> None:
    # docs/deploy.md's recipe: TLS on the site address, every plain port on loopback.
    site = tmp_path / "site"
    shutil.copytree(deployment.root, site)
    env_file = site / ".env"
    text = env_file.read_text(encoding="utf-8")
    env_file.write_text(
        text.replace("HOST_MQTT_TLS_BIND=127.0.0.1", "HOST_MQTT_TLS_BIND=192.0.2.10"),
        encoding="utf-8",
    )
    done = compose_config(site)
    assert done.returncode == 0, done.stderr
    ports = published(yaml.safe_load(done.stdout))
    assert ("192.0.2.10", TLS_PORT) in ports["mosquitto"]
    plain = [(a, n) for bindings in ports.values() for a, n in bindings if n != TLS_PORT]
    assert all(address == "127.0.0.1" for address, _ in plain), plain
