"""deploy/setup.sh: random secrets into .env, the broker's password file, nothing printed."""

import base64
import hashlib
import os
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.deployment import (
    ENV_EXAMPLE,
    PASSWORD_VARS,
    SECRET_VARS,
    VIEWER_USER,
    Deployment,
    read_env,
    run_setup,
)
from tests.support.broker import Mosquitto


def mosquitto_hash_matches(stored: str, password: str) -> bool:
    """Check a Mosquitto 2 `$7$iterations$salt$hash` entry (PBKDF2-HMAC-SHA512)."""
    _, kind, iterations, salt, digest = stored.split("$")
    assert kind == "7"
    expected = base64.b64decode(digest)
    derived = hashlib.pbkdf2_hmac(
        "sha512", password.encode(), base64.b64decode(salt), int(iterations), len(expected)
    )
    return derived == expected


def passwd_entries(deployment: Deployment) -> dict[str, str]:
    """The password file as {user: stored hash}."""
    lines = deployment.passwd_file.read_text(encoding="utf-8").splitlines()
    return dict(line.split(":", 1) for line in lines if line)


def test_every_secret_is_random_and_distinct(deployment: Deployment) -> None:
    env = deployment.env
    secrets = [env[name] for name in SECRET_VARS]
    assert all(re.fullmatch(r"[0-9a-f]{64}", secret) for secret in secrets), secrets
    assert len(set(secrets)) == len(secrets)


def test_everything_else_is_copied_from_the_example(deployment: Deployment) -> None:
    generated = {k: v for k, v in deployment.env.items() if k not in SECRET_VARS}
    example = read_env(ENV_EXAMPLE)
    assert generated == {k: v for k, v in example.items() if k not in SECRET_VARS}
    assert all(example[name] == "" for name in SECRET_VARS), "the example holds a secret"


def mode(path: Path) -> int:
    """A file's permission bits."""
    return stat.S_IMODE(path.stat().st_mode)


def test_env_is_private_and_the_hashed_password_file_readable_by_any_broker(
    deployment: Deployment,
) -> None:
    assert mode(deployment.env_file) == 0o600
    # The broker reads the file as its own user: uid 1883 in the container, `mosquitto` on a
    # Debian host. Neither owns it, so the file and its folder are open to all (hashes only).
    assert mode(deployment.passwd_file.parent) == 0o755
    assert mode(deployment.passwd_file) == 0o644
    assert not list(deployment.passwd_file.parent.glob("*.new")), "plain-text leftovers"


@pytest.fixture
def traversable() -> Iterator[Path]:
    """A folder every user can reach (pytest's own are private to their owner)."""
    folder = Path(tempfile.mkdtemp(prefix="evcsm-setup-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


HOST_BROKER_CONF = """\
listener {{port}} 127.0.0.1
allow_anonymous false
password_file {passwd}
persistence false
log_dest stdout
"""


def publish(port: int, user: str, password: str) -> int:
    """Exit status of one authenticated mosquitto_pub to the broker on `port`."""
    command = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-u", user, "-P", password]
    done = subprocess.run([*command, "-t", "evcsm/test", "-m", "x"], check=False, timeout=60)
    return done.returncode


@pytest.mark.broker
def test_a_broker_on_the_host_reads_the_password_file_where_setup_wrote_it(
    traversable: Path,
) -> None:
    if os.geteuid() != 0 or not shutil.which("mosquitto_pub"):
        pytest.skip("needs root (Mosquitto then reads the file as its own user) and mosquitto_pub")
    deployment = Deployment.create(traversable)
    conf = HOST_BROKER_CONF.format(passwd=deployment.passwd_file)
    with Mosquitto(conf) as broker:
        assert publish(broker.port, VIEWER_USER, deployment.password(VIEWER_USER)) == 0
        assert publish(broker.port, VIEWER_USER, "wrong") != 0


def test_running_again_opens_a_secrets_folder_an_earlier_version_made_private(
    traversable: Path,
) -> None:
    deployment = Deployment.create(traversable)
    deployment.passwd_file.parent.chmod(0o700)
    run_setup(deployment.root)
    assert mode(deployment.passwd_file.parent) == 0o755
    assert mode(deployment.env_file) == 0o600


def test_the_password_file_verifies_each_generated_password(deployment: Deployment) -> None:
    entries = passwd_entries(deployment)
    for user in PASSWORD_VARS:
        assert mosquitto_hash_matches(entries[user], deployment.password(user)), user
        assert not mosquitto_hash_matches(entries[user], deployment.password(user) + "x")


def test_output_names_what_was_generated_and_never_a_secret(deployment: Deployment) -> None:
    for name in SECRET_VARS:
        assert f"generated {name}" in deployment.setup_output
        assert deployment.env[name] not in deployment.setup_output


@pytest.fixture
def fresh(tmp_path: Path) -> Deployment:
    """A deployment of its own, for tests that change it."""
    return Deployment.create(tmp_path)


def test_running_again_keeps_every_value_and_rehashes_changed_passwords(
    fresh: Deployment,
) -> None:
    before = fresh.env
    chosen = "Chosen-by.the_operator~1"
    text = fresh.env_file.read_text(encoding="utf-8")
    fresh.env_file.write_text(
        text.replace(f"MQTT_VIEWER_PASSWORD={before['MQTT_VIEWER_PASSWORD']}", "")
        + f"MQTT_VIEWER_PASSWORD={chosen}\n",
        encoding="utf-8",
    )
    output = run_setup(fresh.root)
    assert "generated" not in output
    assert chosen not in output
    assert fresh.env == before | {"MQTT_VIEWER_PASSWORD": chosen}
    assert mosquitto_hash_matches(passwd_entries(fresh)[VIEWER_USER], chosen)


def test_an_unsafe_secret_is_refused_without_being_printed(fresh: Deployment) -> None:
    text = fresh.env_file.read_text(encoding="utf-8")
    fresh.env_file.write_text(
        re.sub(r"(?m)^MONGO_PASSWORD=.*$", "MONGO_PASSWORD=p@ss:word", text), encoding="utf-8"
    )
    done = subprocess.run(
        ["sh", str(fresh.root / "deploy" / "setup.sh")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 1
    assert "MONGO_PASSWORD" in done.stderr
    assert "p@ss:word" not in done.stdout + done.stderr


def test_without_mosquitto_passwd_or_docker_it_says_what_to_install(
    fresh: Deployment, tmp_path: Path
) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in (
        "sh",
        "dirname",
        "od",
        "tr",
        "sed",
        "tail",
        "awk",
        "cp",
        "chmod",
        "mkdir",
        "mv",
        "rm",
    ):
        found = shutil.which(tool)
        assert found, tool
        (tools / tool).symlink_to(found)
    fresh.passwd_file.unlink()
    done = subprocess.run(
        [str(tools / "sh"), str(fresh.root / "deploy" / "setup.sh")],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": str(tools)},
        timeout=60,
    )
    assert done.returncode == 1
    assert "apt-get install mosquitto" in done.stderr
    assert not fresh.passwd_file.exists()
    assert not list(fresh.passwd_file.parent.glob("*.new")), "plain-text leftovers"
