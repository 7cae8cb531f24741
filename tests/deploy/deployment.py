"""The repository's deployment files, set up in a temporary copy as an operator would.

`Deployment.create()` copies what `deploy/setup.sh` needs into a fresh folder and runs the
script there, so tests use the `.env` and the broker password file it really generates.
`broker_conf()` turns the repo's mosquitto.conf into one a local Mosquitto can load: only the
container paths and the listener ports change, every other line stays as it is;
`running_broker()` runs it with the ACL and the generated password file.
"""

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.broker import Mosquitto

REPO = Path(__file__).resolve().parents[2]
SETUP = REPO / "deploy" / "setup.sh"
MOSQUITTO_CONF = REPO / "mosquitto.conf"
MOSQUITTO_ACL = REPO / "mosquitto.acl"
ENV_EXAMPLE = REPO / ".env.example"
COMPOSE_FILE = REPO / "docker-compose.yml"

DAEMON_USER = "evcsm-daemon"
OPERATOR_USER = "evcsm-operator"
VIEWER_USER = "evcsm-viewer"
PASSWORD_VARS = {
    DAEMON_USER: "MQTT_DAEMON_PASSWORD",
    OPERATOR_USER: "MQTT_OPERATOR_PASSWORD",
    VIEWER_USER: "MQTT_VIEWER_PASSWORD",
}
SECRET_VARS = (*PASSWORD_VARS.values(), "MONGO_PASSWORD", "EVCSM_API_TOKEN")

MQTT_PORT = 1883
WEBSOCKETS_PORT = 9001
TLS_PORT = 8883


def read_env(path: Path) -> dict[str, str]:
    """`KEY=value` lines of an env file (comments and blank lines skipped; the last wins)."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


@dataclass(frozen=True)
class Deployment:
    """A temporary copy of the deployment files after `deploy/setup.sh` ran in it."""

    root: Path
    setup_output: str

    @classmethod
    def create(cls, root: Path) -> "Deployment":
        """Copy the files setup.sh and docker compose read into `root`, then run setup.sh."""
        for name in ("docker-compose.yml", "mosquitto.conf", "mosquitto.acl", ".env.example"):
            shutil.copy2(REPO / name, root / name)
        (root / "deploy").mkdir()
        shutil.copy2(SETUP, root / "deploy" / "setup.sh")
        output = run_setup(root)
        return cls(root, output)

    @property
    def env_file(self) -> Path:
        """The generated .env."""
        return self.root / ".env"

    @property
    def passwd_file(self) -> Path:
        """The generated Mosquitto password file."""
        return self.root / "deploy" / "secrets" / "mosquitto.passwd"

    @property
    def env(self) -> dict[str, str]:
        """The generated .env as a dict."""
        return read_env(self.env_file)

    def password(self, user: str) -> str:
        """The MQTT password setup.sh generated for `user`."""
        return self.env[PASSWORD_VARS[user]]


def run_setup(root: Path) -> str:
    """Run the copy of setup.sh in `root`; its stdout and stderr together."""
    done = subprocess.run(
        ["sh", str(root / "deploy" / "setup.sh")],
        capture_output=True,
        text=True,
        check=False,
        cwd=tempfile.gettempdir(),  # the script finds its folder by itself
        timeout=60,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def broker_files(deployment: Deployment) -> Path:
    """A folder the broker can read after dropping root: the ACL, the password file, data/."""
    folder = Path(tempfile.mkdtemp(prefix="evcsm-deploy-broker-"))
    folder.chmod(0o755)
    for source, name in ((MOSQUITTO_ACL, "mosquitto.acl"), (deployment.passwd_file, "passwd")):
        shutil.copyfile(source, folder / name)
        (folder / name).chmod(0o644)
    for sub in ("data", "certs"):
        (folder / sub).mkdir()
    # Mosquitto started as root runs as its own user and writes its persistence file here.
    (folder / "data").chmod(0o777)
    return folder


def broker_conf(
    conf: str, files: Path, *, tls_port: int | None = None, websockets: bool = False
) -> str:
    """The repo's config for a local broker: container paths under `files`, MQTT on `{port}`.

    The MQTT listener becomes `{port}` on loopback (filled in by `Mosquitto`). The websockets
    listener is kept only with `websockets=True` (Debian's Mosquitto 2.0.11 is built without
    them). With `tls_port`, the commented-out TLS block is switched on, on that port.
    """
    local_dirs = {
        "/mosquitto/config/": files,
        "/mosquitto/data/": files / "data",
        "/mosquitto/certs/": files / "certs",
    }
    out: list[str] = []
    skipping = in_tls = False
    for line in conf.splitlines():
        text = line
        if tls_port is not None and line == f"#listener {TLS_PORT}":
            in_tls = True
        if in_tls and re.match(r"#[a-z_]+ ", line):
            text = line.removeprefix("#")
        if text.startswith("listener "):
            port = int(text.split()[1])
            skipping = port == WEBSOCKETS_PORT and not websockets
            text = {
                MQTT_PORT: "listener {port} 127.0.0.1",
                TLS_PORT: f"listener {tls_port} 127.0.0.1",
            }.get(port, text)
        elif not text.strip():
            skipping = in_tls = False
        if skipping:
            continue
        for container_dir, local in local_dirs.items():
            text = text.replace(container_dir, f"{local}{os.sep}")
        out.append(text)
    rewritten = "\n".join(out) + "\n"
    unmapped = [line for line in out if "/mosquitto/" in line and not line.startswith("#")]
    assert not unmapped, f"mosquitto.conf has container paths no test maps: {unmapped}"
    return rewritten


def make_certificates(folder: Path) -> None:
    """A throw-away CA and a server certificate for localhost, as deploy/certs/README.md asks."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed (Debian: apt-get install openssl)")
    (folder / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    steps = [
        "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=evcsm-test-ca"
        " -keyout ca.key -out ca.crt",
        "req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr",
        "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2"
        " -extfile san.ext -out server.crt",
    ]
    for step in steps:
        subprocess.run([openssl, *step.split()], cwd=folder, check=True, capture_output=True)
    for name in ("ca.crt", "server.crt", "server.key"):
        (folder / name).chmod(0o644)  # the broker reads them after dropping root


@contextmanager
def running_broker(
    deployment: Deployment, *, tls_port: int | None = None
) -> Iterator[tuple[Mosquitto, Path]]:
    """A real Mosquitto on the repo's config, ACL and generated password file, and its folder.

    With `tls_port`, the config's TLS listener is on, with certificates made for the test.
    """
    files = broker_files(deployment)
    try:
        if tls_port is not None:
            make_certificates(files / "certs")
        conf = broker_conf(MOSQUITTO_CONF.read_text(encoding="utf-8"), files, tls_port=tls_port)
        with Mosquitto(conf) as running:
            yield running, files
    finally:
        shutil.rmtree(files, ignore_errors=True)
