"""The README's first command, for real: `./dev up` in a terminal, `s` starts, `q` leaves nothing;
and when it cannot run (a taken port, a bad fleet) it says why on the terminal and opens nothing.
Every log goes to the test's own folder."""

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.broker import Mosquitto, free_port
from tests.support.process import eventually
from tests.support.terminal import Terminal, line_of

ROOT = Path(__file__).parents[2]
CHECKOUT_RUN = ROOT / "run"
DEV_UP_TIMEOUT_S = 120

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def checkout_logs() -> dict[str, int]:
    """The checkout's own run/ folder: file name to modification time."""
    if not CHECKOUT_RUN.is_dir():
        return {}
    return {p.name: p.stat().st_mtime_ns for p in CHECKOUT_RUN.iterdir()}


@pytest.fixture
async def terminal() -> AsyncIterator[Terminal]:
    term = Terminal()
    try:
        yield term
    finally:
        await term.run("kill-server")


@pytest.fixture
def run_dir(tmp_path: Path) -> Iterator[Path]:
    """Where `./dev up` writes its logs in a test; the checkout's run/ must stay as it was."""
    before = checkout_logs()
    yield tmp_path / "run"
    assert checkout_logs() == before, "./dev up wrote into the checkout's run/ folder"


def dev_up_env(run_dir: Path, **settings: str) -> dict[str, str]:
    """The test's environment for `./dev up`: its own ports and log folder, a home in tmp."""
    env = dict(os.environ)
    env.update(
        EVCSM_DEV_RUN_DIR=str(run_dir),
        EVCSM_DEV_MQTT_PORT=str(free_port()),
        EVCSM_HTTP_ADDR=f"127.0.0.1:{free_port()}",
        EVCSM_OCPP_ADDR=f"127.0.0.1:{free_port()}",
        XDG_STATE_HOME=str(run_dir.parent / "state"),
    )
    env.update(settings)
    return env


def dev_up_fails(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `./dev up` as its own process group; on a hang, end that group and fail."""
    proc = subprocess.Popen(
        [str(ROOT / "dev"), "up"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=DEV_UP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        out, err = proc.communicate()
        pytest.fail(f"./dev up did not stop on its own; it printed:\n{err}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


async def test_dev_up_runs_everything_and_quitting_stops_it(
    terminal: Terminal, run_dir: Path
) -> None:
    env = dev_up_env(run_dir, EVCSM_CHARGERS="CP1:22,CP2:11")
    mqtt_port = int(env["EVCSM_DEV_MQTT_PORT"])
    http_port = int(env["EVCSM_HTTP_ADDR"].rsplit(":", 1)[1])
    settings = " ".join(
        f"{key}={env[key]}"
        for key in (
            "EVCSM_DEV_RUN_DIR",
            "EVCSM_DEV_MQTT_PORT",
            "EVCSM_HTTP_ADDR",
            "EVCSM_OCPP_ADDR",
            "XDG_STATE_HOME",
            "EVCSM_CHARGERS",
        )
    )
    work = run_dir.parent / "work"
    work.mkdir()
    command = f"cd {work} && {settings} {ROOT}/dev up"

    async def up() -> None:
        await terminal.tmux("new-session", "-d", "-s", "dash", "-x", "100", "-y", "30", command)
        await terminal.wait_for("the daemon online", lambda s: "daemon online" in s and "CP2" in s)

    async def quit_all() -> None:
        await terminal.tmux("send-keys", "-t", "dash", "q")

        async def all_gone() -> bool:
            alive = await terminal.alive()
            return not alive and not listening(mqtt_port) and not listening(http_port)

        with contextlib.suppress(TimeoutError):
            await eventually("the dashboard, the daemon and the broker gone", all_gone, 15.0)
        assert not await terminal.alive()
        assert not listening(http_port), "the daemon is still running after quitting"
        assert not listening(mqtt_port), "the broker is still running after quitting"

    def chargers() -> list[dict[str, object]]:
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/api/chargers", timeout=5) as r:
            return list(json.load(r))

    await up()
    await terminal.tmux("send-keys", "-t", "dash", "s")
    await terminal.wait_for("CP1 charging", lambda s: "Charging" in line_of(s, "CP1"))

    states = await asyncio.to_thread(chargers)
    assert [(c["chargerId"], c["status"]) for c in states] == [("CP1", "Charging"), ("CP2", "Idle")]

    # The palette's screenshot lands in the folder ./dev up was started from.
    await terminal.tmux("send-keys", "-t", "dash", "C-p")
    await terminal.wait_for("the palette", lambda s: "Search for commands" in s)
    await terminal.tmux("send-keys", "-t", "dash", "-l", "screenshot")
    await terminal.wait_for("Screenshot offered", lambda s: "Save an SVG" in s)
    await terminal.tmux("send-keys", "-t", "dash", "Enter")
    await terminal.wait_for("the saved notice", lambda s: "Saved to" in s)
    [screenshot] = work.glob("evcsm-screen-*.svg")
    assert "CP1" in screenshot.read_text(encoding="utf-8")
    await quit_all()

    assert "started session" in (run_dir / "daemon.log").read_text(encoding="utf-8")

    # The sessions are in the SQLite file of the run folder: the next `./dev up` carries on.
    assert (run_dir / "sessions.db").exists()
    await up()
    await terminal.wait_for("CP1 still charging", lambda s: "Charging" in line_of(s, "CP1"))
    again = await asyncio.to_thread(chargers)
    assert again[0]["session"]["sessionId"] == states[0]["session"]["sessionId"]  # type: ignore[index]
    await quit_all()

    # Every log in the run folder it was given, none in the home or the checkout.
    assert "resumed session" in (run_dir / "daemon.log").read_text(encoding="utf-8")
    assert (run_dir / "mosquitto.log").exists()
    assert f"connected to mqtt://127.0.0.1:{mqtt_port}" in (run_dir / "tui.log").read_text(
        encoding="utf-8"
    )
    assert not (run_dir.parent / "state").exists()


def test_a_broker_already_on_the_port_stops_it_before_anything_starts(run_dir: Path) -> None:
    with Mosquitto() as someone_elses:
        env = dev_up_env(run_dir, EVCSM_DEV_MQTT_PORT=str(someone_elses.port))
        done = dev_up_fails(env)
    assert done.returncode == 1
    assert f"MQTT port {someone_elses.port} is taken" in done.stderr
    assert "EVCSM_DEV_MQTT_PORT" in done.stderr
    assert not (run_dir / "daemon.log").exists(), "the daemon started on someone else's broker"


@pytest.mark.parametrize(
    ("variable", "what"), [("EVCSM_HTTP_ADDR", "REST"), ("EVCSM_OCPP_ADDR", "OCPP")]
)
def test_a_taken_port_stops_it_with_the_reason(run_dir: Path, variable: str, what: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        addr = f"127.0.0.1:{taken.getsockname()[1]}"
        done = dev_up_fails(dev_up_env(run_dir, **{variable: addr}))
    assert done.returncode == 1
    assert f"{what} address {addr} is taken" in done.stderr
    assert variable in done.stderr


def test_a_bad_fleet_stops_it_with_the_daemons_reason(run_dir: Path) -> None:
    env = dev_up_env(run_dir, EVCSM_CHARGERS="CP1:lots")
    done = dev_up_fails(env)
    assert done.returncode == 1
    assert "the daemon stopped at start (exit 2)" in done.stderr
    assert "charger 'CP1': max power 'lots' is not a number" in done.stderr
    assert not listening(int(env["EVCSM_DEV_MQTT_PORT"])), "the broker outlived ./dev up"
