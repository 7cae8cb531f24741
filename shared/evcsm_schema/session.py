"""The charging session: the one record every part of EVCSM agrees on.

Field names on the wire and in MongoDB are the seed system's (`sessionId`, `startTime`,
`endTime`, `status`, `energyConsumed`), so its existing clients and documents keep working. The
rest is what a metered system needs: which charger, the meter register at start and at the last
reading, the power now, and why the session ended.

Energy is never accumulated by adding increments: `energyConsumed` is always
`(meterWh - meterStartWh) / 1000`, read from a cumulative, monotonic register, so a lost message,
a late tick or a restart cannot make it drift.

A session of an OCPP charge point also keeps what identifies it there: the `transactionId` the
daemon gave the station (unique among all sessions), the station's `chargePointId`, the
`connectorId`, and the `idTag` that started it. These fields are absent on simulated chargers.
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field, model_validator

from evcsm_schema.base import WireModel

CHARGER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""Charger ids are safe as one MQTT topic level: no '/', '+', '#' and at most 64 characters."""

MAX_TRANSACTION_ID = 2**31 - 1
"""OCPP stations keep transaction ids as int32: ids run from 1 to this."""

ChargerId = Annotated[str, Field(pattern=CHARGER_ID_PATTERN, description="Charger id.")]

MAX_STOP_REASON = 200
"""The longest stop reason a client may give, in characters: a longer one is refused as a bad
request (REST 422, an MQTT error reply), never cut short."""


class DefaultStopReason(StrEnum):
    """The stop reasons EVCSM records when none is given: every one in this one place."""

    SEED_CLIENT = "Stopped by client"
    """A stop on the seed's `charging/updates` without a reason."""
    REST = "Stopped by API request"
    """A stop through the REST API without a reason."""
    REQUEST = "Stopped by request"
    """A stop command on `evcsm/chargers/{id}/cmd/stop` without a reason."""
    DASHBOARD = "Stopped from the dashboard"
    """A stop sent from the dashboard."""
    CHARGER_GONE = "Charger no longer configured"
    """An open session of a simulated charger that is not configured any more, at start-up."""
    START_NOT_CONFIRMED = "Start not confirmed by the database"
    """A start the database may have missed: charging was turned off."""
    SUPERSEDED = "Superseded by a new transaction on the connector"
    """An OCPP session left open when its connector started another (its stop was lost)."""
    LOCAL = "Local"
    """An OCPP StopTransaction without a reason: OCPP 1.6 says it means Local."""


class SessionStatus(StrEnum):
    """The seed's two session states."""

    CHARGING = "Charging"
    STOPPED = "Stopped"


class ChargingSession(WireModel):
    """One charging session, as clients are sent it (each store maps it to its own records)."""

    id: str | None = Field(default=None, description="MongoDB ObjectId of the document, as hex.")
    session_id: str = Field(description="Session UUID, set by the daemon.")
    charger_id: ChargerId
    status: SessionStatus = Field(description="'Charging' while active, 'Stopped' once finished.")
    start_time: AwareDatetime = Field(description="When the session started (UTC).")
    end_time: AwareDatetime | None = Field(
        default=None, description="When the session stopped (UTC); only on stopped sessions."
    )
    energy_consumed: float = Field(
        ge=0, description="Energy delivered so far in kWh: (meterWh - meterStartWh) / 1000."
    )
    meter_start_wh: int = Field(ge=0, description="Charger meter register at start, in Wh.")
    meter_wh: int = Field(
        ge=0, description="Meter register at the latest reading (at stop, once stopped), in Wh."
    )
    power_kw: float = Field(ge=0, description="Power at the latest reading in kW (0 once stopped).")
    stop_reason: str | None = Field(default=None, description="Why the session stopped.")
    updated_at: AwareDatetime = Field(description="When the latest reading was taken (UTC).")
    transaction_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TRANSACTION_ID,
        description="OCPP transaction id given to the station (OCPP chargers only).",
    )
    charge_point_id: str | None = Field(
        default=None, description="OCPP charge point identity (OCPP chargers only)."
    )
    connector_id: int | None = Field(
        default=None, ge=1, description="OCPP connector number (OCPP chargers only)."
    )
    id_tag: str | None = Field(
        default=None, description="The idTag that started the session (OCPP chargers only)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> "ChargingSession":
        if self.meter_wh < self.meter_start_wh:
            raise ValueError("meterWh must not be below meterStartWh")
        if (self.status is SessionStatus.STOPPED) != (self.end_time is not None):
            raise ValueError("endTime is set exactly when the session is Stopped")
        return self

    @property
    def active(self) -> bool:
        """True while the session is charging."""
        return self.status is SessionStatus.CHARGING

    def duration_s(self, now: datetime) -> float:
        """Seconds from start to stop, or to `now` while still charging."""
        end = self.end_time or now
        return max(0.0, (end - self.start_time).total_seconds())
