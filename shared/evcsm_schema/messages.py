"""Every MQTT payload, one model each. Topic names live in `evcsm_schema.topics`.

Seed-compatible: `SeedCommand` is what the seed's frontend publishes on `charging/updates`
(`{"status": "Charging"}` starts, `{"status": "Stopped"}` stops, and its last will is
`{"status": "Stopped", "reason": "Unexpected Disconnect"}`); `StatusEvent` is what the daemon
publishes there on every status change, and `SessionUpdate` is the per-tick reading on
`session/updates`. A payload on `charging/updates` that carries a `sessionId` is an event, never a
command, so the daemon cannot mistake its own publications (or another daemon's) for commands.

Structured: `FleetUpdate` carries every active session's reading of one tick in one message (for
dashboards and integrators that watch a whole fleet); `ChargerState` is retained per charger; `CommandRequest`/`CommandReply` and
`SessionQuery`/`SessionQueryReply` are MQTT 5 request/response pairs (the reply goes to the
request's response topic with its correlation data).
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator, Field, model_validator

from evcsm_schema.base import InboundModel, WireModel
from evcsm_schema.bounds import FilterTime, WholeNumber
from evcsm_schema.errors import ErrorInfo
from evcsm_schema.session import MAX_STOP_REASON, ChargerId, ChargingSession, SessionStatus


def _text_or_none(value: Any) -> Any:  # noqa: ANN401 - accepts whatever a foreign client sent
    """Keep a string; drop anything else, as the seed ignored it."""
    return value if isinstance(value, str) else None


StopReason = Annotated[
    Annotated[str, Field(max_length=MAX_STOP_REASON)] | None, BeforeValidator(_text_or_none)
]
"""A stop reason a client gives: at most MAX_STOP_REASON characters (longer is refused); a
value that is not a string is ignored, as the seed did."""


class SeedCommand(InboundModel):
    """A message on `charging/updates` as the seed's clients send it.

    Only `status` matters for a command. `startTime`, `endTime` and other fields are accepted
    and ignored; a string `reason` becomes the session's stop reason.
    """

    status: SessionStatus = Field(description="'Charging' starts, 'Stopped' stops.")
    session_id: str | None = Field(
        default=None,
        description="Present on the daemon's own events; a payload with it is not a command.",
    )
    reason: StopReason = Field(default=None, description="Why the client stops (optional).")

    @property
    def is_event(self) -> bool:
        """True when this is a status event (ours or another daemon's), not a command."""
        return self.session_id is not None


class StatusEvent(WireModel):
    """Published by the daemon on `charging/updates` on every status change (QoS 1)."""

    status: SessionStatus = Field(description="The session's new status.")
    session_id: str = Field(description="Session UUID.")
    charger_id: ChargerId
    start_time: AwareDatetime = Field(description="When the session started (UTC).")
    end_time: AwareDatetime | None = Field(default=None, description="When it stopped (UTC).")
    energy_consumed: float = Field(ge=0, description="Energy delivered in kWh.")
    reason: str | None = Field(default=None, description="Why the session stopped.")

    @classmethod
    def of(cls, session: ChargingSession) -> "StatusEvent":
        """The event that announces `session`'s current status."""
        return cls(
            status=session.status,
            session_id=session.session_id,
            charger_id=session.charger_id,
            start_time=session.start_time,
            end_time=session.end_time,
            energy_consumed=session.energy_consumed,
            reason=session.stop_reason,
        )


class SessionUpdate(WireModel):
    """Published by the daemon on `session/updates` for each active session at every tick."""

    session_id: str = Field(description="Session UUID.")
    charger_id: ChargerId
    status: SessionStatus = Field(description="Always 'Charging' for a tick update.")
    energy_consumed: float = Field(ge=0, description="Energy delivered so far in kWh.")
    power_kw: float = Field(ge=0, description="Power at this reading in kW.")
    meter_wh: int = Field(ge=0, description="Charger meter register at this reading, in Wh.")
    timestamp: AwareDatetime = Field(description="When the reading was taken (UTC).")

    @classmethod
    def of(cls, session: ChargingSession) -> "SessionUpdate":
        """The tick update for `session`'s latest reading."""
        return cls(
            session_id=session.session_id,
            charger_id=session.charger_id,
            status=session.status,
            energy_consumed=session.energy_consumed,
            power_kw=session.power_kw,
            meter_wh=session.meter_wh,
            timestamp=session.updated_at,
        )


class FleetReading(WireModel):
    """One active session's reading inside a `FleetUpdate`: a `SessionUpdate` without the fields
    the readings share (the status is always Charging; the time is the message's unless given)."""

    session_id: str = Field(description="Session UUID.")
    charger_id: ChargerId
    energy_consumed: float = Field(ge=0, description="Energy delivered so far in kWh.")
    power_kw: float = Field(ge=0, description="Power at this reading in kW.")
    meter_wh: int = Field(ge=0, description="Charger meter register at this reading, in Wh.")
    timestamp: AwareDatetime | None = Field(
        default=None,
        description="When this reading was taken (UTC), present only when not at the message's"
        " timestamp (an OCPP charger's last meter value, say).",
    )

    @classmethod
    def of(cls, session: ChargingSession, tick: datetime) -> "FleetReading":
        """The latest reading of `session`, in a message whose timestamp is `tick`."""
        return cls(
            session_id=session.session_id,
            charger_id=session.charger_id,
            energy_consumed=session.energy_consumed,
            power_kw=session.power_kw,
            meter_wh=session.meter_wh,
            timestamp=None if session.updated_at == tick else session.updated_at,
        )


class FleetUpdate(WireModel):
    """Published by the daemon on `evcsm/fleet/updates` at every tick: every active session's
    latest reading in one message, instead of one message per session.

    A tick too large for one message is split into `parts` messages of whole readings, numbered
    from 1; each reading stands on its own, so a client can apply each part as it arrives. A
    tick with no active session publishes nothing.
    """

    timestamp: AwareDatetime = Field(
        description="When the readings were taken (UTC), except those that give their own."
    )
    part: int = Field(default=1, ge=1, description="This message's number within its tick.")
    parts: int = Field(default=1, ge=1, description="How many messages the tick was split into.")
    readings: list[FleetReading] = Field(description="The readings, one per active session.")

    @model_validator(mode="after")
    def _part_within_parts(self) -> "FleetUpdate":
        if self.part > self.parts:
            raise ValueError("part must not exceed parts")
        return self


class ChargerStatus(StrEnum):
    """What a charger is doing: OCPP 1.6's connector states, with two differences.

    `Idle` is OCPP's Available (ready, no session): simulated chargers and the seed's clients have
    always said `Idle`, and one word per meaning keeps every client's switch simple. `Offline`
    says the charger's station is not connected, so its last reported state is not known to hold.
    A simulated charger is only ever `Idle` or `Charging`.
    """

    IDLE = "Idle"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EV = "SuspendedEV"
    SUSPENDED_EVSE = "SuspendedEVSE"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"
    OFFLINE = "Offline"


class ChargerState(WireModel):
    """Retained on `evcsm/chargers/{chargerId}/state`: a charger's state at its last change.

    The station fields are set for OCPP chargers only (a connector of a charge point).
    """

    charger_id: ChargerId
    max_power_kw: float | None = Field(
        default=None,
        gt=0,
        description="The charger's maximum power in kW; absent when unknown (OCPP chargers).",
    )
    status: ChargerStatus = Field(
        description="'Idle' when ready, 'Charging' while delivering energy; OCPP chargers also "
        "report Preparing, SuspendedEV, SuspendedEVSE, Finishing, Reserved, Unavailable, "
        "Faulted, and Offline while their station is not connected."
    )
    session: ChargingSession | None = Field(
        default=None, description="The active session, or the last one once stopped."
    )
    updated_at: AwareDatetime = Field(description="When this state was published (UTC).")
    simulation_speed: float | None = Field(
        default=None,
        gt=0,
        description=(
            "A simulated charger's clock speed: its meter runs this many times faster than real"
            " time, so energy grows that much faster than the session's wall-clock duration."
            " Absent for a real charger."
        ),
    )
    charge_point_id: str | None = Field(default=None, description="OCPP charge point identity.")
    connector_id: int | None = Field(default=None, ge=1, description="OCPP connector number.")
    vendor: str | None = Field(default=None, description="Station vendor (BootNotification).")
    model: str | None = Field(default=None, description="Station model (BootNotification).")
    serial_number: str | None = Field(default=None, description="Station serial number.")
    firmware_version: str | None = Field(default=None, description="Station firmware version.")
    last_message_at: AwareDatetime | None = Field(
        default=None, description="When the station last sent anything (UTC)."
    )
    error_code: str | None = Field(
        default=None,
        description="OCPP ChargePointErrorCode of a Faulted connector or station, else absent.",
    )
    error_info: str | None = Field(
        default=None, description="The station's free text and vendor code about the error."
    )


class Availability(StrEnum):
    """Retained plain-text payload of `evcsm/daemon/availability` (not JSON)."""

    ONLINE = "online"
    OFFLINE = "offline"


class CommandAction(StrEnum):
    """The last level of a command topic: `evcsm/chargers/{chargerId}/cmd/{action}`."""

    START = "start"
    STOP = "stop"


class CommandRequest(InboundModel):
    """Body of a command request; an empty payload is the same as `{}`."""

    reason: StopReason = Field(default=None, description="Stop reason to record (stop only).")


class CommandReply(WireModel):
    """The daemon's answer to a command, sent to the request's response topic (QoS 1)."""

    ok: bool = Field(
        description="True when the command took effect (or was already in effect), or, with "
        "`pending`, when the charger accepted it."
    )
    charger_id: str = Field(description="The charger named in the command topic.")
    action: str = Field(description="The action named in the command topic.")
    pending: bool | None = Field(
        default=None,
        description="True on the first reply to a request an OCPP charger accepted but has not "
        "carried out yet: a second, final reply with the same correlation data follows, with "
        "the session or the error (start_timeout...). Absent on a final reply.",
    )
    request_id: str | None = Field(
        default=None,
        description="Names a request an OCPP charger accepted (both replies carry it; REST "
        "`GET /api/requests/{requestId}` shows it too).",
    )
    session: ChargingSession | None = Field(
        default=None, description="The started, existing or stopped session when ok and final."
    )
    error: ErrorInfo | None = Field(default=None, description="Why it failed, when not ok.")

    @model_validator(mode="after")
    def _ok_xor_error(self) -> "CommandReply":
        if self.ok == (self.error is not None):
            raise ValueError("a reply carries an error exactly when it is not ok")
        return self

    @classmethod
    def accepted(cls, charger_id: str, action: str, request_id: str) -> "CommandReply":
        """The first reply to a request the charger accepted but has not carried out yet."""
        return cls(
            ok=True, charger_id=charger_id, action=action, pending=True, request_id=request_id
        )

    @classmethod
    def done(
        cls,
        charger_id: str,
        action: str,
        session: ChargingSession | None,
        request_id: str | None = None,
    ) -> "CommandReply":
        """The final reply of a command carried out (`request_id` when it was pending first)."""
        return cls(
            ok=True, charger_id=charger_id, action=action, session=session, request_id=request_id
        )

    @classmethod
    def failed(
        cls, charger_id: str, action: str, error: ErrorInfo, request_id: str | None = None
    ) -> "CommandReply":
        """The final reply of a command that was not, or will not be, carried out."""
        return cls(
            ok=False, charger_id=charger_id, action=action, error=error, request_id=request_id
        )

    @property
    def final(self) -> bool:
        """True unless a second, final reply follows this one (`pending`)."""
        return not self.pending


MAX_OFFSET = 100_000
"""Deepest page a query may skip to; older sessions are reached with `since`/`until`."""


class SessionQuery(InboundModel):
    """A request for stored sessions on `evcsm/sessions/query`; also the REST list filters.

    Every value is checked before the database sees it (`evcsm_schema.bounds`): date-times are
    RFC 3339 strings with an offset in the years 1970 to 9998 and `limit` and `offset` are
    integers in range. A `since` after `until` is no error: it matches nothing.
    """

    charger_id: ChargerId | None = Field(default=None, description="Only this charger.")
    status: SessionStatus | None = Field(default=None, description="Only this status.")
    since: FilterTime | None = Field(
        default=None, description="Started at or after this date-time (RFC 3339, with offset)."
    )
    until: FilterTime | None = Field(
        default=None, description="Started before this date-time (RFC 3339, with offset)."
    )
    limit: WholeNumber = Field(default=100, ge=1, le=1000, description="Page size, newest first.")
    offset: WholeNumber = Field(
        default=0, ge=0, le=MAX_OFFSET, description="Sessions to skip (at most 100000)."
    )


class SessionPage(WireModel):
    """One page of sessions, newest first."""

    items: list[ChargingSession] = Field(description="The sessions on this page.")
    total: int = Field(ge=0, description="How many sessions match the filters in all.")
    limit: int = Field(ge=1, description="The page size asked for.")
    offset: int = Field(ge=0, description="How many matching sessions were skipped.")


class SessionQueryReply(WireModel):
    """The daemon's answer to a `SessionQuery`."""

    ok: bool = Field(description="True when the query ran.")
    page: SessionPage | None = Field(default=None, description="The sessions, when ok.")
    error: ErrorInfo | None = Field(default=None, description="Why it failed, when not ok.")
