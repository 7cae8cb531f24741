"""The help: every key, read from the bindings themselves, and what the states mean."""

from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.keys import format_key
from textual.screen import ModalScreen
from textual.widgets import Markdown

from evcsm_tui.screens.dashboard import DashboardScreen
from evcsm_tui.screens.history import HistoryScreen
from evcsm_tui.widgets.footer import KeysFooter
from evcsm_tui.widgets.line_table import LineTable

COMMANDS = """\
A command shows as *pending* until the daemon answers; nothing changes on screen before the
daemon confirms it. A refusal or a timeout shows as a notification with the daemon's message.
"""
READ_ONLY = """\
**This dashboard is read-only:** {reason}. It shows every charger and the history, but it no
longer offers start and stop. Log in as an operator (for example `evcsm-operator`) to send
commands.
"""
TROUBLE = """\
The header tells apart a lost **broker** connection (the dashboard retries on its own) from a
**daemon** that is offline. In both cases the chargers show as *Unknown* and start/stop are
unavailable until both are back.
"""


PALETTE = Binding(
    App.COMMAND_PALETTE_BINDING, "command_palette", "Command palette: every action by name"
)
"""Textual's own binding, which no BINDINGS list holds."""
HIDDEN_ACTIONS = frozenset({"read_only"})
"""Bindings that only stand in for another (start and stop while they are off)."""


def key_names(binding: Binding) -> str:
    """Every key of `binding` as the help names it: `?` for question_mark, `ctrl+p`."""
    names = []
    for one in Binding.make_bindings([binding]):
        modifiers, key = one.parse_key()
        names.append("`" + "+".join([*modifiers, format_key(key)]) + "`")
    return " ".join(names)


def key_rows(bindings: Iterable[BindingType], *, commands: bool) -> str:
    """A Markdown table row per binding: its keys and what it does (its tooltip, else its
    description); start and stop only with `commands`."""
    rows = []
    for binding in bindings:
        if not isinstance(binding, Binding) or binding.action in HIDDEN_ACTIONS:
            continue
        if binding.action.startswith("command(") and not commands:
            continue
        rows.append(f"| {key_names(binding)} | {binding.tooltip or binding.description} |\n")
    return "| Key | What it does |\n|---|---|\n" + "".join(rows)


def help_text(read_only_reason: str | None, app_bindings: Iterable[BindingType] = ()) -> str:
    """The help in Markdown, from the screens' and the app's bindings: without start and stop
    when the dashboard is read-only."""
    commands = read_only_reason is None
    sections = (
        ("Chargers", [*DashboardScreen.BINDINGS, *LineTable.BINDINGS]),
        ("History", HistoryScreen.BINDINGS),
        ("Everywhere", [*app_bindings, PALETTE]),
    )
    keys = "\n".join(
        f"## {title}\n\n{key_rows(bindings, commands=commands)}" for title, bindings in sections
    )
    notes = COMMANDS if commands else READ_ONLY.format(reason=read_only_reason)
    return f"# EVCSM dashboard\n\n{keys}\n{notes}\n{TROUBLE}"


class HelpScreen(ModalScreen[None]):
    """Keys and meanings, over the current screen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "app.pop_screen", "Close", key_display="esc"),
    ]

    def __init__(self, log_file: Path | None, read_only_reason: str | None = None) -> None:
        super().__init__()
        self._log_file = log_file
        self._read_only_reason = read_only_reason

    def compose(self) -> ComposeResult:
        """The help text in a scrollable box, with where the log is."""
        where = f"`{self._log_file}`" if self._log_file else "nowhere (no writable log file)"
        with VerticalScroll(id="help-box"):
            text = help_text(self._read_only_reason, self.app.BINDINGS)
            yield Markdown(f"{text}\nThe log goes to {where}.\n")
        yield KeysFooter()
