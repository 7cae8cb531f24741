"""The help: every key, and what the colours and states mean."""

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Markdown

COMMAND_KEYS = """\
| `s` | Start a session on the selected charger |
| `x` | Stop the selected charger's session |
"""
OTHER_KEYS = """\
| `↑` `↓` `j` `k` | Select a charger |
| `f` | Show only Charging, then Idle, then other chargers (Faulted, ...), then all |
| `/` | Show only chargers whose id contains what you type |
| `esc` | Show every charger again |
| `h` | Session history (and back) |
| `ctrl+p` | Command palette: every action by name |
| `?` | This help |
| `q` | Quit |

In the history: `c` filter by charger, `t` by status, `o` sort column, `i` reverse the order,
`e` export the shown rows to CSV, `r` reload, `escape` back.
"""
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


def help_text(read_only_reason: str | None) -> str:
    """The help in Markdown: without start and stop when the dashboard is read-only."""
    keys = OTHER_KEYS if read_only_reason else COMMAND_KEYS + OTHER_KEYS
    commands = READ_ONLY.format(reason=read_only_reason) if read_only_reason else COMMANDS
    table = "| Key | What it does |\n|---|---|\n"
    return f"# EVCSM dashboard\n\n{table}{keys}\n{commands}\n{TROUBLE}"


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
            yield Markdown(f"{help_text(self._read_only_reason)}\nThe log goes to {where}.\n")
        yield Footer()
