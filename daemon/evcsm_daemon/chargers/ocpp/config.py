"""The central system's settings, and who may connect.

`EVCSM_OCPP_CHARGE_POINTS` lists identities: `id` (no password), `id:password` (HTTP Basic,
OCPP security profile 1), or `*` (any identity without a password, for a lab).
"""

import re
import ssl
from dataclasses import dataclass, field
from enum import Enum

IDENTITY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,47}")
"""Charge point identities EVCSM accepts: each connector's charger id `{identity}-{n}` must stay a
valid fleet id (at most 64 characters, one MQTT topic level)."""

WILDCARD = "*"


class Admission(Enum):
    """How an identity is let in."""

    OPEN = "open"
    """Listed without a password, or admitted by `*`."""
    PASSWORD = "password"  # noqa: S105 - the name of a mode, not a secret
    """Listed with a password: HTTP Basic is required."""
    UNKNOWN = "unknown"
    """Not listed and no `*`: the socket opens but BootNotification is rejected."""


@dataclass(frozen=True, slots=True)
class ChargePointList:
    """The identities (and their passwords) that may connect."""

    passwords: dict[str, str | None] = field(default_factory=dict, repr=False)
    """Identity -> password (None: no password); never shown (a secret)."""
    any_identity: bool = False
    """`*` was listed."""

    @classmethod
    def parse(cls, spec: str) -> "ChargePointList":
        """`"CP1,CP2:secret,*"`; ids valid and unique, passwords not empty."""
        passwords: dict[str, str | None] = {}
        any_identity = False
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            if item == WILDCARD:
                any_identity = True
                continue
            identity, sep, password = item.partition(":")
            if not IDENTITY_PATTERN.fullmatch(identity):
                raise ValueError(
                    f"charge point id {identity!r} must match {IDENTITY_PATTERN.pattern}"
                )
            if identity in passwords:
                raise ValueError(f"charge point {identity!r} is listed twice")
            if sep and not password:
                raise ValueError(f"charge point {identity!r}: empty password")
            passwords[identity] = password if sep else None
        return cls(passwords, any_identity)

    def admission(self, identity: str) -> Admission:
        """How `identity` is let in."""
        if identity in self.passwords:
            return Admission.OPEN if self.passwords[identity] is None else Admission.PASSWORD
        return Admission.OPEN if self.any_identity else Admission.UNKNOWN

    def password(self, identity: str) -> str | None:
        """The identity's password, if it has one."""
        return self.passwords.get(identity)


@dataclass(frozen=True, slots=True)
class OcppConfig:
    """How the central system listens and what it allows (see docs/ocpp.md)."""

    host: str = "127.0.0.1"
    port: int = 9000
    """0 picks a free port (tests)."""
    charge_points: ChargePointList = field(default_factory=ChargePointList)
    meter_interval_s: int = 10
    """Set as MeterValueSampleInterval after every accepted boot."""
    heartbeat_interval_s: int = 300
    """Sent in BootNotification; a station silent for twice this long is disconnected."""
    ssl_context: ssl.SSLContext | None = None
    """Serve wss:// (OCPP security profile 2) with this context."""
    status_trigger_delay_s: float = 5.0
    """A station that connects without booting is asked for every connector's status
    (TriggerMessage) after its first message, or after this long if it sends none."""
    max_frame_bytes: int = 128 * 1024
    """A bigger frame closes the connection with 1009."""
    max_connections: int = 2000
    """More open at once are refused with 503 at the handshake."""
    max_connector_id: int = 32
    """Connector ids above are answered PropertyConstraintViolation."""
    handshake_timeout_s: float = 10.0
    """TLS and WebSocket opening handshake together."""
    ping_interval_s: float | None = 60.0
    """WebSocket pings; a peer that does not answer within `ping_timeout_s` is dropped."""
    ping_timeout_s: float | None = 60.0
    call_timeout_s: float = 30.0
    """How long a command waits for the station's answer."""
    sink_timeout_s: float = 20.0
    """How long a station's message waits for the service's answer before InternalError."""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is not in 0..65535")
        for name in ("meter_interval_s", "heartbeat_interval_s", "max_frame_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.max_connections < 1 or self.max_connector_id < 1:
            raise ValueError("max_connections and max_connector_id must be at least 1")

    @property
    def silence_limit_s(self) -> float:
        """A station that sent nothing for this long is disconnected."""
        return 2.0 * self.heartbeat_interval_s
