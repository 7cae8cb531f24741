"""The EVCSM wire contract.

Everything the daemon, the dashboard and any integrator exchange is described here: the stored
charging session (with the seed system's MongoDB field names), every MQTT payload, the topic
names, and the REST bodies. This package imports only pydantic and the standard library, so a
client can depend on it without pulling in a web server, a database driver or a UI toolkit.
"""

from evcsm_schema.api import Health, Problem, Readiness, SessionPage, StopRequest
from evcsm_schema.errors import ErrorCode, ErrorInfo
from evcsm_schema.messages import (
    Availability,
    ChargerState,
    ChargerStatus,
    CommandAction,
    CommandReply,
    CommandRequest,
    FleetReading,
    FleetUpdate,
    SeedCommand,
    SessionQuery,
    SessionQueryReply,
    SessionUpdate,
    StatusEvent,
)
from evcsm_schema.session import CHARGER_ID_PATTERN, ChargingSession, SessionStatus

__all__ = [
    "CHARGER_ID_PATTERN",
    "Availability",
    "ChargerState",
    "ChargerStatus",
    "ChargingSession",
    "CommandAction",
    "CommandReply",
    "CommandRequest",
    "ErrorCode",
    "ErrorInfo",
    "FleetReading",
    "FleetUpdate",
    "Health",
    "Problem",
    "Readiness",
    "SeedCommand",
    "SessionPage",
    "SessionQuery",
    "SessionQueryReply",
    "SessionStatus",
    "SessionUpdate",
    "StatusEvent",
    "StopRequest",
]
