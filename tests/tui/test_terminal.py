"""The real `evcsm-tui` in a real terminal (tmux, 80x24): it connects, `s` starts, `q` quits."""

import asyncio
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from evcsm_daemon.runtime import Daemon

from tests.support.broker import Mosquitto

TMUX = shutil.which("tmux")
EVCSM_TUI = Path(sys.executable).with_name("evcsm-tui")
WAIT_S = 30.0

pytestmark = pytest.mark.broker


class Terminal:
    """One tmux session on a private server, driven from the test."""

    def __init__(self) -> None:
        self.server = f"evcsm-test-{uuid.uuid4().hex[:8]}"

    async def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        assert TMUX is not None
        return await asyncio.to_thread(
            subprocess.run,
            [TMUX, "-L", self.server, *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )

    async def tmux(self, *args: str) -> str:
        done = await self.run(*args)
        assert done.returncode == 0, f"tmux {' '.join(args)}: {done.stderr}"
        return done.stdout

    async def screen(self) -> str:
        return await self.tmux("capture-pane", "-p", "-t", "dash")

    async def alive(self) -> bool:
        """True while the dashboard runs (its tmux session ends when it exits)."""
        return (await self.run("has-session", "-t", "dash")).returncode == 0

    async def wait_for(self, what: str, condition: Callable[[str], bool]) -> str:
        """Poll the screen until `condition` holds; fail showing the last screen after WAIT_S."""
        screen = ""
        try:
            async with asyncio.timeout(WAIT_S):
                while True:
                    screen = await self.screen() if await self.alive() else "(exited)"
                    if condition(screen):
                        return screen
                    await asyncio.sleep(0.2)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}; the screen:\n{screen}") from None


@pytest.fixture
async def terminal() -> AsyncIterator[Terminal]:
    if TMUX is None:
        pytest.fail("tmux is not installed: apt-get install tmux")
    term = Terminal()
    try:
        yield term
    finally:
        await term.run("kill-server")


def line_of(screen: str, charger_id: str) -> str:
    return next((line for line in screen.splitlines() if line.split()[:1] == [charger_id]), "")


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
