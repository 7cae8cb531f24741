"""What every fault scenario shares: its outcome row, the daemons and brokers it runs on.

A scenario runs the real `evcsm-daemon` process (`tests/support/process.py`) against its own
Mosquitto on a free loopback port: the tests' open broker, or the repository's locked-down
mosquitto.conf with its ACL and a password file made by deploy/setup.sh (`locked_broker`) where
roles matter. It reports one `Outcome` per row of the table, filled in through `check`, so that
every promise it tests is counted as a failure when broken and named in `problems`.
"""

import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.deploy.deployment import DAEMON_USER, Deployment, running_broker
from tests.support.broker import Mosquitto
from tests.support.mqtt import Probe, probe
from tests.support.process import DaemonProcess

SESSIONS_PAGE = 1000
"""Sessions one history page returns at most (the API's largest `limit`)."""


@dataclass
class Outcome:
    """One row of the fault table: what was tried, what broke, and the figure that matters."""

    scenario: str
    inputs: int
    unit: str
    """What `inputs` counts, in the singular: request, message, kill, second."""
    figure: str = ""
    failures: int = 0
    """Promises broken: a wrong answer, a second session, an availability flap, a timeout."""
    crashes: int = 0
    """Daemon processes that exited on their own or printed a traceback."""
    lost: int = 0
    """Sessions or readings lost, or written when nothing should have been."""
    problems: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def held(self) -> bool:
        """Nothing failed, crashed or was lost."""
        return not (self.failures or self.crashes or self.lost)

    def check(self, ok: bool, problem: str, *, lost: bool = False) -> bool:  # noqa: FBT001 - reads as an assertion
        """Count `problem` as a failure (or as data lost or wrongly written) unless `ok`."""
        if not ok:
            if lost:
                self.lost += 1
            else:
                self.failures += 1
            self.problems.append(problem)
        return ok

    def fail(self, problem: str) -> None:
        """Count `problem` as a failure."""
        self.check(ok=False, problem=problem)

    def check_daemon(self, daemon: DaemonProcess) -> None:
        """Count a crash if the daemon exited or printed a traceback."""
        if daemon.proc is None:
            return
        if daemon.proc.poll() is not None:
            self.crashes += 1
            self.problems.append(f"the daemon exited with {daemon.proc.returncode}")
        elif "Traceback" in daemon.output():
            self.crashes += 1
            self.problems.append("the daemon logged a traceback")

    @property
    def tried(self) -> str:
        """`inputs` with its unit, such as "1,000 requests"."""
        if self.inputs == 1 or not self.unit:
            return f"{self.inputs:,} {self.unit}".rstrip()
        plural = self.unit[:-1] + "ies" if self.unit.endswith("y") else self.unit + "s"
        return f"{self.inputs:,} {plural}"

    def as_json(self) -> dict[str, Any]:
        """The row as plain data."""
        return {
            "scenario": self.scenario,
            "inputs": self.inputs,
            "unit": self.unit,
            "failures": self.failures,
            "crashes": self.crashes,
            "lost": self.lost,
            "held": self.held,
            "figure": self.figure,
            "problems": self.problems,
            "details": self.details,
        }


@contextlib.contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    """A temporary folder, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=f"evcsm-faults-{prefix}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def locked_broker(folder: Path) -> Iterator[tuple[Mosquitto, Deployment]]:
    """The repository's mosquitto.conf and ACL on a free loopback port, with the users and
    passwords deploy/setup.sh generates (run on a copy of the deployment files in `folder`)."""
    deployment = Deployment.create(folder)
    with running_broker(deployment) as (broker, _):
        yield broker, deployment


def daemon_login(broker: Mosquitto, deployment: Deployment) -> dict[str, str]:
    """The daemon's settings to log in to a locked broker as its own user."""
    return {
        "EVCSM_MQTT_URL": broker.url.replace("mqtt://", f"mqtt://{DAEMON_USER}@"),
        "EVCSM_MQTT_PASSWORD": deployment.password(DAEMON_USER),
    }


@contextlib.asynccontextmanager
async def running(**settings: str) -> AsyncIterator[DaemonProcess]:
    """The daemon process with these EVCSM_ settings, started and ready; killed on the way out."""
    daemon = DaemonProcess(**{"EVCSM_CHARGERS": "CP1:22,CP2:11", **settings})
    try:
        await daemon.start()
        yield daemon
    finally:
        daemon.close()


@contextlib.asynccontextmanager
async def client(
    port: int,
    *subscriptions: str,
    deployment: Deployment | None = None,
    user: str | None = None,
    client_id: str | None = None,
) -> AsyncIterator[Probe]:
    """An MQTT 5 client that records what it receives: anonymous, or `user` of `deployment`."""
    password = deployment.password(user) if deployment is not None and user else None
    async with probe(
        port, *subscriptions, username=user, password=password, client_id=client_id
    ) as found:
        yield found


def broker_losses(daemon: DaemonProcess) -> int:
    """How many times the daemon lost (or could not reach) its broker, from its log's warnings."""
    lines = daemon.output().splitlines()
    return sum(1 for line in lines if "MQTT broker" in line and " unreachable (" in line)


async def stored(http: httpx.AsyncClient, **filters: str) -> list[dict[str, Any]]:
    """Every session the daemon lists (at most one page of SESSIONS_PAGE), newest first."""
    params = {"limit": str(SESSIONS_PAGE), **filters}
    page = (await http.get("/api/sessions", params=params)).json()
    items: list[dict[str, Any]] = page["items"]
    return items
