"""The README's first command, for real: `./dev up` in a terminal, `s` starts, `q` leaves nothing."""

import asyncio
import json
import shutil
import socket
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.broker import free_port
from tests.tui.test_terminal import Terminal, line_of

ROOT = Path(__file__).parents[2]

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
async def terminal() -> AsyncIterator[Terminal]:
    term = Terminal()
    try:
        yield term
    finally:
        await term.run("kill-server")


async def test_dev_up_runs_everything_and_quitting_stops_it(
    terminal: Terminal, tmp_path: Path
) -> None:
    mqtt_port, http_port = free_port(), free_port()
    command = (
        f"cd {ROOT} && EVCSM_DEV_MQTT_PORT={mqtt_port} EVCSM_HTTP_ADDR=127.0.0.1:{http_port} "
        f"EVCSM_CHARGERS=CP1:22,CP2:11 EVCSM_STORE_URI=sqlite:{tmp_path}/sessions.db ./dev up"
    )

    async def up() -> None:
        await terminal.tmux("new-session", "-d", "-s", "dash", "-x", "100", "-y", "30", command)
        await terminal.wait_for("the daemon online", lambda s: "daemon online" in s and "CP2" in s)

    async def quit_all() -> None:
        await terminal.tmux("send-keys", "-t", "dash", "q")
        for _ in range(150):
            if not await terminal.alive() and not listening(mqtt_port) and not listening(http_port):
                break
            await asyncio.sleep(0.1)
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
    await quit_all()

    # The sessions are in the SQLite file: the next `./dev up` carries on the same one.
    await up()
    await terminal.wait_for("CP1 still charging", lambda s: "Charging" in line_of(s, "CP1"))
    again = await asyncio.to_thread(chargers)
    assert again[0]["session"]["sessionId"] == states[0]["session"]["sessionId"]  # type: ignore[index]
    await quit_all()
