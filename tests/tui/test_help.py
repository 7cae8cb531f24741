"""The help is rendered from the bindings: every key the screens and the app bind is in it."""

from evcsm_tui.app import EvcsmApp
from evcsm_tui.screens.dashboard import DashboardScreen
from evcsm_tui.screens.help import help_text, key_names
from evcsm_tui.screens.history import HistoryScreen
from textual.binding import Binding


def bindings() -> list[Binding]:
    found = [*DashboardScreen.BINDINGS, *HistoryScreen.BINDINGS, *EvcsmApp.BINDINGS]
    return [b for b in found if isinstance(b, Binding) and b.action != "read_only"]


def test_every_binding_is_in_the_help_with_what_it_does() -> None:
    text = help_text(None, EvcsmApp.BINDINGS)
    for binding in bindings():
        row = f"| {key_names(binding)} | {binding.tooltip or binding.description} |"
        assert row in text, row
    assert "| `ctrl+p` |" in text
    assert "| `?` | This help |" in text


def test_a_read_only_help_leaves_start_and_stop_out() -> None:
    text = help_text("this login may not send commands", EvcsmApp.BINDINGS)
    assert "This dashboard is read-only" in text
    for binding in bindings():
        row = f"| {key_names(binding)} |"
        assert (row in text) is not binding.action.startswith("command("), row


def test_keys_are_named_as_typed() -> None:
    assert key_names(Binding("escape,h", "back", "Back", key_display="esc")) == "`esc` `h`"
    assert key_names(Binding("slash", "find", "Id")) == "`/`"
