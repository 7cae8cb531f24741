"""Error codes shared by MQTT error replies and REST problem details.

A client can switch on `code` whichever way it reached the daemon; `message` is for people.
"""

from enum import StrEnum

from pydantic import Field

from evcsm_schema.base import WireModel


class ErrorCode(StrEnum):
    """Why a request failed."""

    BAD_REQUEST = "bad_request"
    """The payload or parameters are malformed: not JSON, wrong types, unknown values."""
    PAYLOAD_TOO_LARGE = "payload_too_large"
    """The payload is larger than the daemon accepts."""
    UNKNOWN_CHARGER = "unknown_charger"
    """No charger with that id is configured."""
    NO_ACTIVE_SESSION = "no_active_session"
    """A stop was asked for a charger that is not charging."""
    NOT_FOUND = "not_found"
    """The session or resource asked for does not exist."""
    UNAUTHORIZED = "unauthorized"
    """A mutating REST call came without the right bearer token."""
    FORBIDDEN = "forbidden"
    """A mutating REST call came from another site's web page (cross-origin)."""
    CHARGER_OFFLINE = "charger_offline"
    """The charger's station is not connected: the command could not be sent."""
    CHARGER_NO_ANSWER = "charger_no_answer"
    """The station did not answer the command in time, or dropped its connection meanwhile:
    whether it acted is not known."""
    CHARGER_REFUSED = "charger_refused"
    """The station answered the command with an OCPP error (CALLERROR), or with an answer OCPP
    does not allow."""
    START_REJECTED = "start_rejected"
    """The charger answered a start request with Rejected, or it started no session."""
    START_TIMEOUT = "start_timeout"
    """The charger accepted a start request but began no transaction in time."""
    STOP_REJECTED = "stop_rejected"
    """The charger answered a stop request with Rejected."""
    STOP_TIMEOUT = "stop_timeout"
    """The charger accepted a stop request but did not stop its transaction in time."""
    UNAVAILABLE = "unavailable"
    """The database could not be reached (nothing was changed), did not confirm a write (the
    message says so, and what is in effect), or the daemon had no room for the request (nothing
    was done: send it again)."""
    INTERNAL = "internal"
    """An unexpected failure; the daemon logged it."""


class ErrorInfo(WireModel):
    """A machine-readable code and a human-readable message."""

    code: ErrorCode = Field(description="Machine-readable error code.")
    message: str = Field(description="What went wrong, for people.")
