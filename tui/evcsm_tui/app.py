"""The dashboard app: wires the MQTT link to the state, the screens and the keys."""

import asyncio
import contextlib
import gc
import logging
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, ClassVar

from evcsm_schema import CommandAction, CommandReply
from evcsm_schema.base import utc_now
from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from evcsm_tui import fmt
from evcsm_tui.client import Link, MqttLink
from evcsm_tui.config import Options, parse_options
from evcsm_tui.errors import ConfigError, NotAuthorised, RequestError
from evcsm_tui.logs import setup_logging
from evcsm_tui.screens.base import Host
from evcsm_tui.screens.dashboard import DashboardScreen
from evcsm_tui.screens.help import HelpScreen
from evcsm_tui.screens.history import HistoryScreen
from evcsm_tui.state import (
    DashboardState,
    Inbound,
    LinkChange,
    LinkStatus,
    fold_all,
    set_pending,
    set_read_only,
)

log = logging.getLogger(__name__)

LINK_RESTART_S = 1.0
"""Pause before the link starts again after a failure it did not handle itself."""
READ_ONLY_REASON = "the broker does not let this login send commands"
SCREENSHOT_DELAY_S = 0.1
"""Lets the command palette close before the screen is captured."""
HISTORY = "history"
"""The history screen's mode."""
SEND_WAIT_S = 0.2
"""How long `h` waits for the history's request to leave before showing the screen anyway: the
broker acknowledges it in a millisecond or two."""
GC_THRESHOLD = 50_000
"""Net new objects between two young-generation collections (Python's default is 700).

A fleet of thousands makes tens of thousands of short-lived objects a second (every reading,
every refreshed charger state); with the default, a full collection ran every ~3 s and held the
screen for 65-110 ms, which a key press then waited for. Nearly all of them are freed as soon as
they are replaced, so the collector has little to find (bench/dashboard.py)."""


class EvcsmApp(App[None]):
    """Full-screen dashboard of one EVCSM site."""

    TITLE = "EVCSM"
    CSS_PATH = "styles/app.tcss"
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {
        "dashboard": DashboardScreen,
        HISTORY: HistoryScreen,
    }
    DEFAULT_MODE = "dashboard"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", key_display="?", tooltip="This help"),
        Binding("q", "quit", "Quit"),
    ]

    state: reactive[DashboardState] = reactive(DashboardState, always_update=True)
    """What the screens show; replaced, never mutated."""

    def __init__(
        self,
        link: Link,
        *,
        export_dir: Path | None = None,
        now: Callable[[], datetime] = utc_now,
        tz: tzinfo | None = None,
        refresh_interval: float = 0.2,
        log_file: Path | None = None,
    ) -> None:
        super().__init__()
        self.log_file = log_file
        self.link = link
        self.export_dir = export_dir or Path.cwd()
        self.now = now
        self.tz = tz
        self._refresh_interval = refresh_interval
        self._settled = DashboardState()
        self._inbox: list[Inbound] = []

    def on_mount(self) -> None:
        """Start the link, and repaint at most every `refresh_interval` seconds."""
        self.set_interval(self._refresh_interval, self._publish)
        self._run_link()
        self.call_after_refresh(self._prepare_history)

    def _prepare_history(self) -> None:
        """Once the dashboard is first drawn, prepare the history screen (not while closing)."""
        if self.is_running:
            self._history_screen()

    def _history_screen(self) -> HistoryScreen:
        """The history screen, composed and mounted off screen the first time, so that `h` only
        switches to it.

        A screen Textual builds on its first switch costs ~100 ms before it can be drawn: it
        composes and mounts the screen and its footer, and re-parses and applies the whole
        stylesheet twice. Prepared here, it is styled with the stylesheet of now, and marked
        so: the switch re-parses only if the stylesheet changed since (a theme change). This
        uses Textual's own preparation of a mode (`_init_mode`, private in the pinned Textual
        8.2); tests/tui/test_history_open.py fails if it stops preparing the screen.
        """
        try:
            [screen] = self.get_screen_stack(HISTORY)
        except KeyError:
            styled = self._css_update_count
            self._init_mode(HISTORY)  # also posts a resume, which a screen off screen ignores
            [screen] = self.get_screen_stack(HISTORY)
            screen._css_update_count = styled
        if not isinstance(screen, HistoryScreen):
            raise TypeError(f"the {HISTORY} mode holds {screen!r}")
        return screen

    def delay_update(self, delay: float = 0.05) -> None:
        """Hold the display only while a screen is still being built.

        Textual holds the display for `delay` when it switches modes, to mask a screen it is
        still building. The history is built before it is asked for (`_history_screen`), and
        the hold only kept it, drawn already, off the terminal: for 50 ms, and on a busy loop
        for up to ~110 ms, since the timer that ends the hold waits for the loop.
        """
        built = (screen.is_mounted for mode in self.MODES for screen in self._stack_of(mode))
        if not all(built):
            super().delay_update(delay)

    def _stack_of(self, mode: str) -> list[Screen[Any]]:
        try:
            return self.get_screen_stack(mode)
        except KeyError:
            return []

    async def action_history(self) -> None:
        """Show the session history: its request leaves first, then the screen (prepared) is
        drawn while the daemon answers (drawing holds the loop ~50 ms, and a request sent
        after it would wait for that too)."""
        if self.current_mode == HISTORY:
            return
        sent = asyncio.Event()
        self._history_screen().open(sent.set)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SEND_WAIT_S):
                await sent.wait()
        self.switch_mode(HISTORY)

    def receive(self, event: Inbound) -> None:
        """Take one message from the link: folded with the others at the next repaint, so a
        message costs the same however large the fleet (a change of link is shown at once)."""
        self._inbox.append(event)
        if isinstance(event, LinkChange):
            self._publish()

    def current(self) -> DashboardState:
        """The state with every message received so far (perhaps not shown yet)."""
        if self._inbox:
            events, self._inbox = self._inbox, []
            self._settled = fold_all(self._settled, events)
        return self._settled

    def _publish(self) -> None:
        latest = self.current()
        if latest is not self.state:
            self.state = latest

    @work(name="mqtt-link", group="link", exit_on_error=False)
    async def _run_link(self) -> None:
        while True:
            try:
                await self.link.run(self.receive)
            except Exception:
                log.exception("the broker link failed")
                self.notify(
                    "The broker link failed and restarts (details in the log).",
                    title="Internal error",
                    severity="error",
                )
            self.receive(LinkChange(LinkStatus.DISCONNECTED, "the link restarts"))
            await asyncio.sleep(LINK_RESTART_S)

    def request_command(self, charger_id: str | None, action: CommandAction) -> None:
        """Send `action` for `charger_id`, or tell the operator why it cannot be sent."""
        refusal = self.current().command_refusal(charger_id, action)
        if refusal is not None or charger_id is None:
            self.notify(refusal or "no charger is selected", severity="warning")
            return
        self._settled = set_pending(self.current(), charger_id, action)
        self._publish()
        self._command(charger_id, action)

    @work(group="commands", exit_on_error=False)
    async def _command(self, charger_id: str, action: CommandAction) -> None:
        title = f"{action.value.capitalize()} {charger_id}"

        def accepted(_: CommandReply) -> None:
            waiting = "to begin charging" if action is CommandAction.START else "to stop"
            self.notify(f"accepted by the charger; waiting for it {waiting}", title=title)

        try:
            reply = await self.link.command(charger_id, action, accepted)
        except NotAuthorised as exc:
            log.warning("%s: %s; the dashboard is read-only from now on", title, exc)
            self._settled = set_read_only(self.current(), READ_ONLY_REASON)
            self.notify(
                f"{exc}. This dashboard is read-only from now on.",
                title=f"{title}: not authorised",
                severity="error",
                timeout=10,
            )
        except RequestError as exc:
            self.notify(str(exc), title=f"{title}: no answer", severity="error", timeout=10)
        else:
            if reply.error is not None:
                verb = "failed" if reply.request_id else "refused"  # failed after it was accepted
                self.notify(reply.error.message, title=f"{title} {verb}", severity="error")
            else:
                self.notify("confirmed by the daemon", title=title)
        finally:
            self._settled = set_pending(self.current(), charger_id, None)
            self._publish()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Any worker that fails becomes a notification and a log entry, never a traceback."""
        if event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        log.error("%s failed", event.worker.name, exc_info=error)
        self.notify(f"{error!r} (details in the log)", title="Internal error", severity="error")

    def action_help(self) -> None:
        """Show the help."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.log_file, self.current().read_only_reason))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The palette: the built-in commands, plus start, stop and history by name."""
        for command in super().get_system_commands(screen):
            if command.title == "Screenshot":  # Textual's saves to ~/Downloads, ours where CSVs go
                yield SystemCommand(
                    "Screenshot",
                    f"Save an SVG of the screen in {self.export_dir}",
                    lambda: self.set_timer(SCREENSHOT_DELAY_S, self.action_screenshot),
                )
            else:
                yield command
        yield SystemCommand("Session history", "Past sessions", self.action_history)
        yield SystemCommand("Help", "Keys and meanings", self.action_help)
        if self.current().read_only:
            return
        for charger_id in self.current().charger_ids:
            for action in CommandAction:
                yield SystemCommand(
                    f"{action.value.capitalize()} {charger_id}",
                    f"Send {action.value} to charger {charger_id}",
                    lambda c=charger_id, a=action: self.request_command(c, a),
                )

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save an SVG of the screen (in the export folder unless `path` says otherwise)."""
        name = filename or f"evcsm-screen-{fmt.file_stamp(self.now(), self.tz)}.svg"
        self._save_screenshot(Path(path) if path else self.export_dir, name)

    @work(group="screenshot", exit_on_error=False)
    async def _save_screenshot(self, folder: Path, name: str) -> None:
        target = folder / name
        svg = self.export_screenshot()
        try:
            await asyncio.to_thread(target.write_text, svg, encoding="utf-8")
        except OSError as exc:
            log.error("could not save the screenshot to %s: %s", target, exc)  # noqa: TRY400 - the cause, not a traceback
            self.notify(str(exc), title="Screenshot not saved", severity="error", timeout=10)
            return
        log.info("screenshot saved to %s", target)
        self.notify(f"Saved to {target}", title="Screenshot")


def build_app(options: Options, log_file: Path | None) -> EvcsmApp:
    """The app for these options, connected to the real broker."""
    link = MqttLink(options.broker, request_timeout=options.command_timeout)
    return EvcsmApp(link, export_dir=options.export_dir, log_file=log_file)


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: `evcsm-tui [--mqtt-url URL]`."""
    try:
        options = parse_options(argv)
        log_file = setup_logging(options.log_files, required=options.log_required)
    except (ConfigError, OSError) as exc:
        print(f"evcsm-tui: {exc}", file=sys.stderr)  # before the screen opens
        return 2
    log.info("evcsm-tui starting for %s", options.broker.label)
    app = build_app(options, log_file)
    gc.freeze()  # what is loaded by now lives as long as the process: never scan it again
    gc.set_threshold(GC_THRESHOLD, 10, 10)
    app.run()
    log.info("evcsm-tui stopped")
    return 0


def _hosts_screens(app: EvcsmApp) -> Host:
    """The app offers its screens what they use of it (checked by mypy)."""
    return app
