"""REST bodies that are not MQTT payloads too: problem details, health, the stop body."""

from pydantic import ConfigDict, Field

from evcsm_schema.base import InboundModel, WireModel
from evcsm_schema.errors import ErrorCode
from evcsm_schema.messages import SessionPage


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

    reason: str | None = Field(default=None, max_length=200, description="Stop reason to record.")


class Health(WireModel):
    """Liveness: the process answers."""

    status: str = Field(default="ok", description="Always 'ok' when the daemon answers.")


class Readiness(WireModel):
    """Readiness: the broker and the database are reachable."""

    ready: bool = Field(description="True when both the broker and the database are reachable.")
    broker: bool = Field(description="Connected to the MQTT broker.")
    database: bool = Field(description="The database answered a ping.")


__all__ = ["Health", "Problem", "Readiness", "SessionPage", "StopRequest"]
