"""Which chargers the dashboard's table shows: all, or those of one status, or whose id contains
some text. Pure: the screen keeps a `ChargerFilter` and the table shows `rows(state)`.

Statuses other than Charging and Idle (an OCPP connector's Faulted, Offline, SuspendedEV, ...)
are one choice, `other`: in a large fleet these are the chargers that need a look."""

from dataclasses import dataclass
from enum import StrEnum

from evcsm_tui.state import ChargerView, DashboardState


class StatusFilter(StrEnum):
    """The statuses the table can be narrowed to, in the order `f` cycles through them."""

    ALL = "all"
    CHARGING = "Charging"
    IDLE = "Idle"
    OTHER = "other"
    """Neither Charging nor Idle."""


@dataclass(frozen=True)
class ChargerFilter:
    """A status and a piece of charger id (case does not matter); the default shows all."""

    status: StatusFilter = StatusFilter.ALL
    text: str = ""

    @property
    def active(self) -> bool:
        """True when some charger may be hidden."""
        return self.status is not StatusFilter.ALL or bool(self.text)

    def matches(self, view: ChargerView) -> bool:
        """True when the filter shows `view`."""
        status = self.status
        if status is StatusFilter.OTHER:
            if view.status_label in (StatusFilter.CHARGING.value, StatusFilter.IDLE.value):
                return False
        elif status is not StatusFilter.ALL and view.status_label != status.value:
            return False
        return self.text.casefold() in view.charger_id.casefold()

    def rows(self, state: DashboardState) -> tuple[str, ...]:
        """The ids of the chargers shown, in display order."""
        if not self.active:
            return state.order
        chargers = state.chargers
        return tuple(key for key in state.order if self.matches(chargers[key]))

    def describe(self, shown: int, total: int) -> str:
        """One line: what the filter keeps, and how many of the chargers that is."""
        parts = []
        if self.status is not StatusFilter.ALL:
            parts.append(f"status {self.status.value}")
        if self.text:
            parts.append(f'id contains "{self.text}"')
        kept = " · ".join(parts) or "all"
        return f"{shown:,} of {total:,} chargers · {kept} · esc shows all"
