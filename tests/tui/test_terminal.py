"""The real `evcsm-tui` in a real terminal (tmux, 80x24): it connects, `s` starts, `q` quits."""

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from evcsm_daemon.runtime import Daemon

from tests.support.broker import Mosquitto
from tests.support.terminal import TMUX, Terminal, line_of

EVCSM_TUI = Path(sys.executable).with_name("evcsm-tui")

pytestmark = pytest.mark.broker


@pytest.fixture
async def terminal() -> AsyncIterator[Terminal]:
    if TMUX is None:
        pytest.fail("tmux is not installed: apt-get install tmux")
    term = Terminal()
    try:
        yield term
    finally:
        await term.run("kill-server")


async def test_real_terminal_start_and_quit(
    broker: Mosquitto, daemon: Daemon, terminal: Terminal, tmp_path: Path
) -> None:
    log_file = tmp_path / "tui.log"
    command = f"{EVCSM_TUI} --mqtt-url {broker.url} --log-file {log_file} --export-dir {tmp_path}"
    await terminal.tmux("new-session", "-d", "-s", "dash", "-x", "80", "-y", "24", command)
    screen = await terminal.wait_for(
        "both chargers idle with the daemon online",
        lambda s: (
            "daemon online" in s and "Idle" in line_of(s, "CP1") and "Idle" in line_of(s, "CP2")
        ),
    )
    assert "s Start" in screen
    assert "q Quit" in screen

    await terminal.tmux("send-keys", "-t", "dash", "s")
    screen = await terminal.wait_for("CP1 charging", lambda s: "Charging" in line_of(s, "CP1"))
    assert "CP1 · Charging" in screen
    first = line_of(screen, "CP1")
    await terminal.wait_for("CP1's energy moving", lambda s: line_of(s, "CP1") not in ("", first))

    await terminal.tmux("send-keys", "-t", "dash", "q")
    await terminal.wait_for("the dashboard to exit", lambda s: s == "(exited)")
    assert "connected to mqtt://127.0.0.1" in log_file.read_text(encoding="utf-8")
