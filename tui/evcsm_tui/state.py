"""The dashboard's state, and how each message from the broker changes it.

Pure: no Textual, no asyncio, no clock. `fold(state, event)` returns a new `DashboardState`
and never mutates the old one, so the screen can compare, keep or drop states freely.

What the screen believes comes from the daemon only: the retained `ChargerState` of each
charger sets its status and session, and `SessionUpdate` ticks move the live energy and power of
the session that state names. A command in flight is remembered as *pending* beside that state and
changes nothing else: the row turns Charging when the daemon's state says so, not before. A
login the broker refuses to take commands from makes the dashboard read-only.

Staleness follows the two links the operator depends on: with no broker connection nothing on
screen is live, and with the daemon offline (its last will) the chargers' states are unknown.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from evcsm_schema import (
    Availability,
    ChargerState,
    ChargerStatus,
    ChargingSession,
    CommandAction,
    SessionUpdate,
)

SAMPLE_WINDOW = timedelta(minutes=5)
"""How far back the power sparkline reaches."""
MAX_SAMPLES = 600
"""At most this many readings per charger, whatever the tick rate."""


class LinkStatus(StrEnum):
    """The dashboard's connection to the broker."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


@dataclass(frozen=True)
class LinkChange:
    """The broker connection changed; `detail` says why when it dropped."""

    status: LinkStatus
    detail: str = ""


@dataclass(frozen=True)
class ChargerGone:
    """A charger's retained state was cleared: it no longer exists."""

    charger_id: str


Inbound = LinkChange | Availability | ChargerState | SessionUpdate | ChargerGone
"""Everything the MQTT adapter hands to `fold`."""


@dataclass(frozen=True)
class Sample:
    """One power reading of the live session."""

    at: datetime
    power_kw: float


@dataclass(frozen=True)
class ChargerView:
    """One charger as the dashboard knows it."""

    state: ChargerState
    live: SessionUpdate | None = None
    """The latest tick of the session `state` names, when newer than the state."""
    samples: tuple[Sample, ...] = ()
    """Power readings of the current session, oldest first."""
    pending: CommandAction | None = None
    """A command sent from this dashboard and not answered yet."""

    @property
    def charger_id(self) -> str:
        """The charger's id."""
        return self.state.charger_id

    @property
    def session(self) -> ChargingSession | None:
        """The active session, or the last one once stopped."""
        return self.state.session

    @property
    def charging(self) -> bool:
        """True while the daemon says a session is active."""
        return self.state.status is ChargerStatus.CHARGING

    @property
    def status_label(self) -> str:
        """The charger's status in the daemon's words: Charging or Idle.

        A stopped session is a session's status, never a charger's: REST, the retained state
        and the dashboard all call a charger without an active session Idle.
        """
        return self.state.status.value

    @property
    def energy_kwh(self) -> float | None:
        """Energy of the shown session: the live tick's, else the state's."""
        if self.live is not None:
            return self.live.energy_consumed
        return self.session.energy_consumed if self.session else None

    @property
    def power_kw(self) -> float:
        """Power now: zero unless charging."""
        if not self.charging:
            return 0.0
        if self.live is not None:
            return self.live.power_kw
        return self.session.power_kw if self.session else 0.0

    @property
    def load(self) -> float:
        """Power now as a fraction of the charger's maximum, between 0 and 1."""
        return min(1.0, max(0.0, self.power_kw / self.state.max_power_kw))

    @property
    def peak_kw(self) -> float:
        """The highest power seen in this session's readings."""
        return max((sample.power_kw for sample in self.samples), default=self.power_kw)

    def duration_s(self, now: datetime) -> float | None:
        """Seconds the shown session has run (or ran)."""
        return self.session.duration_s(now) if self.session else None


@dataclass(frozen=True)
class DashboardState:
    """Everything on the dashboard, replaced as a whole on every change."""

    link: LinkStatus = LinkStatus.CONNECTING
    link_detail: str = ""
    daemon: Availability | None = None
    """The daemon's retained availability; None until one arrives."""
    chargers: Mapping[str, ChargerView] = field(default_factory=dict)
    read_only_reason: str | None = None
    """Why this login may only watch (the broker refused one of its commands), or None."""

    @property
    def read_only(self) -> bool:
        """True once the broker refused a command from this login: start and stop are off."""
        return self.read_only_reason is not None

    @property
    def charger_ids(self) -> list[str]:
        """Charger ids in display order."""
        return sorted(self.chargers)

    @property
    def live(self) -> bool:
        """True when both the broker link and the daemon are up: the states are current."""
        return self.link is LinkStatus.CONNECTED and self.daemon is Availability.ONLINE

    def blocked_reason(self) -> str | None:
        """Why commands cannot be sent now, or None when they can."""
        if self.link is not LinkStatus.CONNECTED:
            return "not connected to the broker"
        if self.daemon is Availability.OFFLINE:
            return "the daemon is offline"
        if self.daemon is None:
            return "no daemon has announced itself on this broker"
        return None

    def command_refusal(self, charger_id: str | None, action: CommandAction) -> str | None:
        """Why `action` on `charger_id` should not be sent, or None to send it."""
        if self.read_only:
            return f"{action.value.capitalize()} is unavailable: this dashboard is read-only."
        if charger_id is None or charger_id not in self.chargers:
            return "no charger is selected"
        reason = self.blocked_reason()
        if reason is not None:
            return f"{action.value.capitalize()} is disabled: {reason}."
        pending = self.chargers[charger_id].pending
        if pending is not None:
            return f"{charger_id}: a {pending.value} command is still waiting for the daemon."
        return None


def fold(state: DashboardState, event: Inbound) -> DashboardState:
    """The state after `event`."""
    if isinstance(event, LinkChange):
        # Whatever the daemon said before is unknown until its retained availability comes again.
        return replace(state, link=event.status, link_detail=event.detail, daemon=None)
    if isinstance(event, Availability):
        return replace(state, daemon=event)
    if isinstance(event, ChargerGone):
        rest = {key: view for key, view in state.chargers.items() if key != event.charger_id}
        return replace(state, chargers=rest)
    if isinstance(event, ChargerState):
        return _with(state, _apply_state(state.chargers.get(event.charger_id), event))
    view = state.chargers.get(event.charger_id)
    if view is None:
        return state
    updated = _apply_update(view, event)
    return state if updated is view else _with(state, updated)


def set_pending(
    state: DashboardState, charger_id: str, action: CommandAction | None
) -> DashboardState:
    """Mark a command as sent (`action`) or answered (None)."""
    view = state.chargers.get(charger_id)
    if view is None or view.pending == action:
        return state
    return _with(state, replace(view, pending=action))


def set_read_only(state: DashboardState, reason: str) -> DashboardState:
    """Turn start and stop off for good: the broker refused a command from this login.

    It stays so across reconnects, since the broker's ACL for a login does not change while
    the dashboard runs; a restart tries again.
    """
    if state.read_only:
        return state
    return replace(state, read_only_reason=reason)


def _with(state: DashboardState, view: ChargerView) -> DashboardState:
    return replace(state, chargers={**state.chargers, view.charger_id: view})


def _apply_state(view: ChargerView | None, new: ChargerState) -> ChargerView:
    if view is None:
        return ChargerView(state=new)
    same_session = (
        new.session is not None
        and view.session is not None
        and new.session.session_id == view.session.session_id
    )
    live = view.live if same_session and new.status is ChargerStatus.CHARGING else None
    if live is not None and new.session is not None and live.timestamp <= new.session.updated_at:
        live = None
    return replace(view, state=new, live=live, samples=view.samples if same_session else ())


def _apply_update(view: ChargerView, update: SessionUpdate) -> ChargerView:
    session = view.session
    if not view.charging or session is None or session.session_id != update.session_id:
        return view
    latest = view.live.timestamp if view.live else session.updated_at
    if update.timestamp < latest:
        return view
    samples = (*view.samples, Sample(update.timestamp, update.power_kw))
    horizon = update.timestamp - SAMPLE_WINDOW
    samples = tuple(s for s in samples[-MAX_SAMPLES:] if s.at >= horizon)
    return replace(view, live=update, samples=samples)
