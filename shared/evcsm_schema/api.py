"""REST bodies that are not MQTT payloads too: problem details, health, the stop body."""

from enum import StrEnum

from pydantic import AwareDatetime, ConfigDict, Field

from evcsm_schema.base import InboundModel, WireModel
from evcsm_schema.errors import ErrorCode, ErrorInfo
from evcsm_schema.messages import CommandAction, SessionPage
from evcsm_schema.session import MAX_STOP_REASON, ChargerId, ChargingSession


class Problem(WireModel):
    """An error body in the RFC 9457 problem-details format, with the EVCSM error code."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(default="about:blank", description="URI naming the problem type.")
    title: str = Field(description="Short summary of the problem type.")
    status: int = Field(ge=400, le=599, description="The HTTP status code.")
    detail: str = Field(description="What went wrong in this occurrence.")
    instance: str | None = Field(default=None, description="The request path.")
    code: ErrorCode = Field(description="EVCSM error code, the same as in MQTT error replies.")


class StopRequest(InboundModel):
    """Optional body of a stop call."""

    reason: str | None = Field(
        default=None, max_length=MAX_STOP_REASON, description="Stop reason to record."
    )


class RequestState(StrEnum):
    """Where a start or stop request stands."""

    PENDING = "pending"
    """The charger accepted it; its session has not started (or stopped) yet."""
    DONE = "done"
    """The charger carried it out: `session` is the started or stopped session."""
    FAILED = "failed"
    """It will not be carried out: `error` says why (start_timeout, charger_offline...)."""


class ChargerRequest(WireModel):
    """A start or stop request an OCPP charger accepted: the body of a 202, and what its
    `Location` (`/api/requests/{requestId}`) shows until the outcome, and after."""

    request_id: str = Field(description="The request's id.")
    charger_id: ChargerId
    action: CommandAction = Field(description="start or stop.")
    state: RequestState = Field(description="pending, done or failed.")
    deadline: AwareDatetime = Field(
        description="When a pending request fails with start_timeout or stop_timeout (UTC)."
    )
    session: ChargingSession | None = Field(
        default=None, description="The started or stopped session, once done."
    )
    error: ErrorInfo | None = Field(default=None, description="Why it failed, once failed.")


class Health(WireModel):
    """Liveness: the process answers."""

    status: str = Field(default="ok", description="Always 'ok' when the daemon answers.")


class Readiness(WireModel):
    """Readiness: the broker and the database are reachable."""

    ready: bool = Field(description="True when both the broker and the database are reachable.")
    broker: bool = Field(description="Connected to the MQTT broker.")
    database: bool = Field(description="The database answered a ping.")


__all__ = [
    "ChargerRequest",
    "Health",
    "Problem",
    "Readiness",
    "RequestState",
    "SessionPage",
    "StopRequest",
]
