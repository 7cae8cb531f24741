"""The help: every key, and what the colours and states mean."""

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Markdown

HELP = """\
# EVCSM dashboard

| Key | What it does |
|---|---|
| `s` | Start a session on the selected charger |
| `x` | Stop the selected charger's session |
| `↑` `↓` `j` `k` | Select a charger |
| `h` | Session history (and back) |
| `ctrl+p` | Command palette: every action by name |
| `?` | This help |
| `q` | Quit |

In the history: `c` filter by charger, `t` by status, `o` sort column, `i` reverse the order,
`e` export the shown rows to CSV, `r` reload, `escape` back.

A command shows as *pending* until the daemon answers; nothing changes on screen before the
daemon confirms it. A refusal or a timeout shows as a notification with the daemon's message.

The header tells apart a lost **broker** connection (the dashboard retries on its own) from a
**daemon** that is offline. In both cases the chargers show as *Unknown* and start/stop are
unavailable until both are back.
"""


class HelpScreen(ModalScreen[None]):
    """Keys and meanings, over the current screen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "app.pop_screen", "Close", key_display="esc"),
    ]

    def __init__(self, log_file: Path | None) -> None:
        super().__init__()
        self._log_file = log_file

    def compose(self) -> ComposeResult:
        """The help text in a scrollable box, with where the log is."""
        where = f"`{self._log_file}`" if self._log_file else "nowhere (no writable log file)"
        with VerticalScroll(id="help-box"):
            yield Markdown(f"{HELP}\nThe log goes to {where}.\n")
        yield Footer()
