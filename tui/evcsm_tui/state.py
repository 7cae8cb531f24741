"""The dashboard's state, and how each message from the broker changes it.

Pure: no Textual, no asyncio, no clock. `fold(state, event)` returns a new `DashboardState`
and never mutates the old one, so the screen can compare, keep or drop states freely.

What the screen believes comes from the daemon only: the retained `ChargerState` of each
charger sets its status and session, and the readings of each tick (`FleetUpdate`, every active
session's reading in one message) move the live energy and power of the session that state names. A command in flight is remembered as *pending* beside that state and
changes nothing else: the row turns Charging when the daemon's state says so, not before. A
login the broker refuses to take commands from makes the dashboard read-only.

A tick of a fleet of thousands is folded at once: `fold_all` folds a batch of messages with one
copy of the chargers' mapping, so the cost of a batch grows with its messages plus the fleet once,
never with messages times fleet. Power readings are kept in arrays of doubles (`Trace`), 16 bytes
a reading, so five minutes of 5,000 chargers take ~24 MB.

Staleness follows the two links the operator depends on: with no broker connection nothing on
screen is live, and with the daemon offline (its last will) the chargers' states are unknown.
"""

from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from evcsm_schema import (
    Availability,
    ChargerState,
    ChargingSession,
    CommandAction,
    FleetReading,
    FleetUpdate,
    SessionStatus,
)

SAMPLE_WINDOW = timedelta(minutes=5)
"""How far back the power chart reaches."""
_WINDOW_S = SAMPLE_WINDOW.total_seconds()
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


Inbound = LinkChange | Availability | ChargerState | FleetUpdate | ChargerGone
"""Everything the MQTT adapter hands to `fold`."""


@dataclass(frozen=True, slots=True)
class Reading:
    """The latest reading of a charger's live session."""

    session_id: str
    energy_kwh: float
    power_kw: float
    meter_wh: int
    at: datetime


class Trace:
    """Power readings of one session, oldest first (POSIX seconds and kW); never changes.

    A trace is a window `[start, end)` on two append-only arrays of doubles (16 bytes a reading)
    that successive traces of one session share: `add` appends in place when this trace ends
    where the arrays do, so no earlier trace sees a change, and copies otherwise (or to drop
    what the window left behind). So adding a reading costs O(1), not a copy of five minutes.
    Readings older than `SAMPLE_WINDOW` before the newest leave the window, and it holds at
    most `MAX_SAMPLES`.
    """

    __slots__ = ("_end", "_powers", "_start", "_times")

    def __init__(
        self,
        times: "array[float] | None" = None,
        powers: "array[float] | None" = None,
        start: int = 0,
        end: int | None = None,
    ) -> None:
        self._times = array("d") if times is None else times
        self._powers = array("d") if powers is None else powers
        self._start = start
        self._end = len(self._times) if end is None else end

    def __len__(self) -> int:
        return self._end - self._start

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trace):
            return NotImplemented
        return self.times == other.times and self.powers == other.powers

    def __hash__(self) -> int:
        ends = (self._times[self._start], self._times[self._end - 1]) if len(self) else ()
        return hash((len(self), ends))

    def __repr__(self) -> str:
        return f"Trace({len(self)} readings)"

    @property
    def times(self) -> "array[float]":
        """The readings' times (a copy)."""
        return self._times[self._start : self._end]

    @property
    def powers(self) -> "array[float]":
        """The readings' power in kW (a copy)."""
        return self._powers[self._start : self._end]

    @property
    def span_s(self) -> float:
        """Seconds from the oldest reading to the newest."""
        return self._times[self._end - 1] - self._times[self._start] if len(self) else 0.0

    @property
    def peak_kw(self) -> float | None:
        """The highest power among the readings, or None without any."""
        return max(self._powers[self._start : self._end]) if len(self) else None

    def add(self, at: float, power_kw: float) -> "Trace":
        """This trace with one more reading."""
        times, powers, start, end = self._times, self._powers, self._start, self._end
        horizon = at - _WINDOW_S
        while start < end and (times[start] < horizon or end - start >= MAX_SAMPLES):
            start += 1
        if end != len(times) or start > MAX_SAMPLES:  # shared further, or mostly left behind
            times, powers = times[start:end], powers[start:end]
            start, end = 0, end - start
        times.append(at)
        powers.append(power_kw)
        return Trace(times, powers, start, end + 1)


NO_TRACE = Trace()


@dataclass(frozen=True, slots=True)
class ChargerView:
    """One charger as the dashboard knows it."""

    state: ChargerState
    live: Reading | None = None
    """The latest reading of the session `state` names, when newer than the state."""
    samples: Trace = NO_TRACE
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
        return _active(self.state)

    @property
    def status_label(self) -> str:
        """The charger's status in the daemon's words: Charging or Idle, and for an OCPP charger
        its other states (SuspendedEV, Faulted, Offline, ...).

        A stopped session is a session's status, never a charger's: REST, the retained state
        and the dashboard all call a charger without an active session Idle.
        """
        return self.state.status.value

    @property
    def energy_kwh(self) -> float | None:
        """Energy of the shown session: the live tick's, else the state's."""
        if self.live is not None:
            return self.live.energy_kwh
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
        return min(1.0, max(0.0, self.power_kw / self.max_kw))

    @property
    def max_kw(self) -> float:
        """The charger's maximum power; when unknown (OCPP), the highest seen, at least 1 kW."""
        return self.state.max_power_kw or max(self.peak_kw, 1.0)

    @property
    def peak_kw(self) -> float:
        """The highest power seen in this session's readings."""
        peak = self.samples.peak_kw
        return self.power_kw if peak is None else peak

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
    order: tuple[str, ...] = ()
    """The charger ids in display order (sorted), kept by `fold` as chargers come and go."""
    read_only_reason: str | None = None
    """Why this login may only watch (the broker refused one of its commands), or None."""

    @property
    def read_only(self) -> bool:
        """True once the broker refused a command from this login: start and stop are off."""
        return self.read_only_reason is not None

    @property
    def charger_ids(self) -> list[str]:
        """Charger ids in display order."""
        return list(self.order)

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
    return fold_all(state, (event,))


def fold_all(state: DashboardState, events: Iterable[Inbound]) -> DashboardState:
    """The state after `events`, in order: the same as folding them one by one, at the cost of
    one copy of the chargers' mapping for the whole batch (and none when nothing changed)."""
    batch = _Batch(state.chargers)
    for event in events:
        if isinstance(event, LinkChange):
            # Whatever the daemon said before is unknown until its retained availability comes again.
            state = replace(state, link=event.status, link_detail=event.detail, daemon=None)
        elif isinstance(event, Availability):
            state = replace(state, daemon=event)
        elif isinstance(event, FleetUpdate):
            tick, tick_s = event.timestamp, event.timestamp.timestamp()
            for reading in event.readings:
                view = batch.get(reading.charger_id)
                if view is None:
                    continue
                at = reading.timestamp
                if at is None:
                    batch.put(_apply_reading(view, tick, tick_s, reading))
                else:
                    batch.put(_apply_reading(view, at, at.timestamp(), reading))
        elif isinstance(event, ChargerGone):
            batch.drop(event.charger_id)
        else:
            batch.put(_apply_state(batch.get(event.charger_id), event))
    if batch.work is None:
        return state
    order = tuple(sorted(batch.work)) if batch.order_changed else state.order
    return replace(state, chargers=batch.work, order=order)


class _Batch:
    """The chargers while a batch of events is folded: the mapping is copied at the first change."""

    def __init__(self, chargers: Mapping[str, ChargerView]) -> None:
        self.chargers = chargers
        self.work: dict[str, ChargerView] | None = None
        self.order_changed = False

    def get(self, charger_id: str) -> ChargerView | None:
        return self.chargers.get(charger_id)

    def put(self, view: ChargerView) -> None:
        if self.chargers.get(view.charger_id) is view:
            return
        work = self._own()
        self.order_changed |= view.charger_id not in work
        work[view.charger_id] = view

    def drop(self, charger_id: str) -> None:
        if charger_id in self.chargers:
            del self._own()[charger_id]
            self.order_changed = True

    def _own(self) -> dict[str, ChargerView]:
        if self.work is None:
            self.work = dict(self.chargers)
            self.chargers = self.work
        return self.work


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
    live = view.live if same_session and _active(new) else None
    if live is not None and new.session is not None and live.at <= new.session.updated_at:
        live = None
    return replace(view, state=new, live=live, samples=view.samples if same_session else NO_TRACE)


def _active(state: ChargerState) -> bool:
    """True when the state names a session in progress."""
    return state.session is not None and state.session.status is SessionStatus.CHARGING


def _apply_reading(
    view: ChargerView, at: datetime, at_s: float, reading: FleetReading
) -> ChargerView:
    session = view.session
    session_id = reading.session_id
    if not view.charging or session is None or session.session_id != session_id:
        return view
    latest = view.live.at if view.live else session.updated_at
    if at < latest:
        return view
    live = Reading(session_id, reading.energy_consumed, reading.power_kw, reading.meter_wh, at)
    return ChargerView(view.state, live, view.samples.add(at_s, reading.power_kw), view.pending)
