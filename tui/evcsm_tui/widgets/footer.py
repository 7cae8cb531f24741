"""The footer of every screen: Textual's, rebuilt only when the keys it shows change.

Textual's `Footer` rebuilds its keys (a widget each, styled one by one) whenever its screen says
its bindings may have changed: each time the screen is shown and each time the focus moves, even
when the keys are the same. Showing the prepared history screen spent ~30 ms on that. This one
compares what it would show with what it shows, and rebuilds only on a difference (a key enabled
or disabled, start and stop leaving a read-only dashboard, `esc` while a filter is on).
"""

from collections.abc import Hashable

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

KeysShown = tuple[Hashable, ...]


class KeysFooter(Footer):
    """Textual's footer, rebuilt only when the keys it shows change."""

    _composed: KeysShown | None = None
    """What the keys on show were built from; None before they are first built."""

    def keys_shown(self) -> KeysShown:
        """What the footer shows of its screen's bindings, and how."""
        return (
            self.compact,
            self.show_command_palette,
            tuple(
                (
                    binding.key,
                    binding.action,
                    binding.description,
                    binding.key_display,
                    binding.show,
                    binding.group,
                    enabled,
                    tooltip,
                )
                for (_, binding, enabled, tooltip) in self.screen.active_bindings.values()
            ),
        )

    def compose(self) -> ComposeResult:
        """The keys, as Textual's footer builds them; remembers what they were built from."""
        built = False
        for widget in super().compose():  # yielded as they come: some go inside a group
            built = True
            yield widget
        self._composed = self.keys_shown() if built else None

    def bindings_changed(self, screen: Screen[object]) -> None:
        """Rebuild the keys when what they show changed."""
        if (
            self._composed is not None
            and screen is self.screen
            and self.keys_shown() == self._composed
        ):
            return
        super().bindings_changed(screen)
