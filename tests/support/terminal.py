"""A dashboard in a real terminal: one tmux session on a private server, driven from a test."""

import asyncio
import shutil
import subprocess
import uuid
from collections.abc import Callable

TMUX = shutil.which("tmux")
WAIT_S = 30.0


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


def line_of(screen: str, charger_id: str) -> str:
    """The screen line of a charger's row, empty when it shows none."""
    return next((line for line in screen.splitlines() if line.split()[:1] == [charger_id]), "")
