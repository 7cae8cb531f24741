"""What every full screen of the dashboard shares: typed access to the app."""

from typing import TYPE_CHECKING, cast

from textual.screen import Screen

if TYPE_CHECKING:
    from evcsm_tui.app import EvcsmApp


class EvcsmScreen(Screen[None]):
    """A screen of the dashboard app."""

    @property
    def evcsm(self) -> "EvcsmApp":
        """The app, with its state, link and clock."""
        return cast("EvcsmApp", self.app)
