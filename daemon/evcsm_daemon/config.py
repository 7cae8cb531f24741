"""Settings: every one an environment variable (`EVCSM_...`) and a command-line flag.

Each is read into its type once, when read: the broker as a `BrokerUrl`, addresses as an
`Address`, the fleet as charger specs, host names, origins and charge points parsed. A bad
value stops the daemon at once with one line naming it (`main`).
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from evcsm_link.settings import BROKER_METAVARS, ProgramSettings
from evcsm_link.settings import cli_source as settings_source
from evcsm_schema import CHARGER_ID_PATTERN
from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, model_validator
from pydantic_settings import CliSettingsSource, SettingsConfigDict

from evcsm_daemon.api.access import parse_hosts, parse_origins
from evcsm_daemon.api.limits import MAX_CONNECTIONS
from evcsm_daemon.chargers.base import ChargerSpec
from evcsm_daemon.chargers.ocpp.config import IDENTITY_PATTERN, ChargePointList
from evcsm_daemon.mqtt.bridge import SessionUpdates
from evcsm_daemon.mqtt.refresh import STATE_REFRESH_PER_S, STATE_REFRESH_S
from evcsm_daemon.store import check_uri

DEFAULT_STORE = "mongodb://localhost:27017/evcsm"

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True, slots=True)
class Address:
    """A listen address: host (empty: every interface) and port (0: a free one)."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def split_addr(addr: str) -> tuple[str, int]:
    """`host:port` (IPv6 in brackets) as a pair."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{addr!r} is not host:port")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - an empty host means all


def _address(value: Any) -> Any:  # noqa: ANN401 - a setting's raw value
    return Address(*split_addr(value)) if isinstance(value, str) else value


def _fleet(value: Any) -> Any:  # noqa: ANN401 - a setting's raw value
    return tuple(parse_fleet(value)) if isinstance(value, str) else value


def _charge_points(value: Any) -> Any:  # noqa: ANN401 - a setting's raw value
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return ChargePointList.parse(value) if isinstance(value, str) else value


def _names(parse: Any) -> BeforeValidator:  # noqa: ANN401 - a parser of comma-separated text
    return BeforeValidator(lambda value: parse(value) if isinstance(value, str) else value)


ListenAddress = Annotated[Address, BeforeValidator(_address)]
"""`host:port`, IPv6 in brackets; an empty host listens on every interface."""
Fleet = Annotated[tuple[ChargerSpec, ...], BeforeValidator(_fleet)]
"""`id:max_kW,...`: the simulated chargers."""
ChargePoints = Annotated[ChargePointList, BeforeValidator(_charge_points)]
"""`id[:password],...` or `*`: the OCPP charge points admitted."""
HostNames = Annotated[tuple[str, ...], _names(parse_hosts)]
Origins = Annotated[tuple[str, ...], _names(parse_origins)]
StoreUri = Annotated[str, AfterValidator(check_uri)]


def _level(value: str) -> str:
    if value.upper() not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return value.upper()


LogLevel = Annotated[str, AfterValidator(_level)]


class Settings(ProgramSettings):
    """How the daemon is configured."""

    model_config = SettingsConfigDict(cli_prog_name="evcsm-daemon")

    mqtt_client_id: str = Field(
        default="evcsm-daemon",
        description="MQTT client id (with a broker password, a suffix derived from it is added).",
    )
    store_uri: StoreUri = Field(
        default=DEFAULT_STORE,
        description="Where sessions are stored: a mongodb:// or mongodb+srv:// URI (replica sets "
        "welcome), sqlite:PATH for a local file, or 'memory' (lost on exit; for tests).",
    )
    mongodb_uri: StoreUri = Field(
        default=DEFAULT_STORE,
        description="The earlier name of --store-uri, still read; set one of the two.",
    )
    http_addr: ListenAddress = Field(
        default="127.0.0.1:5274", validate_default=True, description="REST API listen host:port."
    )
    allowed_hosts: HostNames | None = Field(
        default=None,
        description=(
            "Host names the REST API answers to besides IP addresses and localhost:"
            " comma-separated, *.domain for sub-domains, * for any. Unset: the listen"
            " name, or this machine's host name on a non-loopback address."
        ),
    )
    allowed_origins: Origins | None = Field(
        default=None,
        description=(
            "Web origins besides the API's own that may make REST writes (and get CORS"
            " headers): comma-separated, such as https://ops.example.com, or *."
        ),
    )
    http_max_connections: int = Field(
        default=MAX_CONNECTIONS,
        ge=1,
        le=10_000,
        description="REST connections held at once, at most.",
    )
    chargers: Fleet = Field(
        default="CP1:22",
        validate_default=True,
        description="The simulated fleet: comma-separated id:max_kW (the first is the seed's "
        "default charger); may be empty when --ocpp-addr is set.",
    )
    default_charger: str | None = Field(
        default=None,
        description="The charger of the seed's calls (/api/ChargingSessionAPI/*, "
        "charging/updates): a simulated charger or an OCPP connector such as CP-7-1. Unset: "
        "the first simulated charger; none without one (the seed's calls answer "
        "unknown_charger).",
    )
    ocpp_addr: ListenAddress | None = Field(
        default=None,
        description="OCPP 1.6J central system listen host:port (charge points connect to "
        "ws://HOST:PORT/ocpp/{id}). Unset: no OCPP listener.",
    )
    ocpp_charge_points: ChargePoints | None = Field(
        default=None,
        description="Charge points admitted: comma-separated id or id:password (HTTP Basic), "
        "or * for any identity without a password.",
    )
    ocpp_meter_interval: int = Field(
        default=10,
        ge=1,
        le=86_400,
        description="Seconds between a station's meter values (MeterValueSampleInterval).",
    )
    ocpp_heartbeat_interval: int = Field(
        default=300,
        ge=1,
        le=86_400,
        description="Seconds between a station's heartbeats; silent for twice this long, it "
        "is disconnected and shown Offline.",
    )
    ocpp_cert_file: Path | None = Field(
        default=None,
        description="PEM certificate (chain) of the OCPP listener: serve wss:// (OCPP "
        "security profile 2). Needs --ocpp-key-file.",
    )
    ocpp_key_file: Path | None = Field(
        default=None, description="PEM private key of --ocpp-cert-file."
    )
    sim_speed: float = Field(
        default=1.0, gt=0, description="Speed-up of the simulated meters' clock."
    )
    tick_interval: float = Field(default=1.0, gt=0, description="Seconds between meter ticks.")
    start_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds a charger that accepted a start request has to begin its session.",
    )
    session_updates: SessionUpdates = Field(
        default="all",
        description="Which sessions get the seed's per-session message on session/updates at "
        "each tick: all, the default charger's only (what the seed's clients read), or none. "
        "evcsm/fleet/updates carries every session's reading either way.",
    )
    state_refresh: float = Field(
        default=STATE_REFRESH_S,
        ge=0,
        description="Seconds between two publications of a charging charger's retained state, so "
        "that it carries live figures (0: only when its status changes). A larger fleet is "
        "refreshed less often, see --state-refresh-rate.",
    )
    state_refresh_rate: int = Field(
        default=STATE_REFRESH_PER_S,
        ge=0,
        description="Retained states of charging chargers republished a second at most: past it, "
        "the period grows with the fleet (0: only when a status changes).",
    )
    battery_kwh: float = Field(default=60.0, gt=0, description="Simulated car battery size in kWh.")
    initial_soc: float = Field(
        default=0.2, ge=0, le=1, description="Simulated car's charge when plugged in (0-1)."
    )
    taper_soc: float = Field(
        default=0.8, ge=0, lt=1, description="Charge (0-1) where the simulated car's power tapers."
    )
    api_token: SecretStr | None = Field(
        default=None, description="Bearer token required by mutating REST calls when set."
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="Log line format: text or json."
    )
    log_level: LogLevel = Field(
        default="INFO", description="Log level: DEBUG, INFO, WARNING, ERROR or CRITICAL."
    )

    @model_validator(mode="after")
    def _one_store(self) -> "Settings":
        """`store_uri` and its earlier name `mongodb_uri` hold the same value: the one set."""
        given = {"store_uri", "mongodb_uri"} & self.model_fields_set
        if given == {"store_uri", "mongodb_uri"} and self.store_uri != self.mongodb_uri:
            raise ValueError("store_uri and mongodb_uri (its earlier name) differ: set only one")
        chosen = self.mongodb_uri if given == {"mongodb_uri"} else self.store_uri
        self.store_uri = self.mongodb_uri = chosen
        return self

    @model_validator(mode="after")
    def _chargers_fit(self) -> "Settings":
        """Some charger to serve; simulated ids apart from OCPP connectors; TLS complete."""
        fleet = self.chargers
        if not fleet and self.ocpp_addr is None:
            raise ValueError("chargers is empty: list simulated chargers, or set ocpp_addr")
        if (self.ocpp_cert_file is None) != (self.ocpp_key_file is None):
            raise ValueError("ocpp_cert_file and ocpp_key_file go together: set both or neither")
        points = self.charge_points()
        if self.ocpp_addr is not None:
            for spec in fleet:
                if station := connector_station(spec.charger_id, points):
                    raise ValueError(
                        f"simulated charger {spec.charger_id!r} would be a connector of OCPP "
                        f"charge point {station!r}: rename it"
                    )
        default = self.default_charger
        simulated = any(c.charger_id == default for c in fleet)
        ocpp = self.ocpp_addr is not None and connector_station(default or "", points)
        if default is not None and not simulated and not ocpp:
            raise ValueError(
                f"default_charger {default!r} is neither a simulated charger nor a "
                "connector ({chargePointId}-{connectorId}) of an admitted OCPP charge point"
            )
        return self

    def charge_points(self) -> ChargePointList:
        """The OCPP charge points admitted (none when unset)."""
        return self.ocpp_charge_points or ChargePointList()

    def default_charger_id(self) -> str | None:
        """The seed's charger: the one configured, else the first simulated one."""
        if self.default_charger is not None:
            return self.default_charger
        return self.chargers[0].charger_id if self.chargers else None


METAVARS: dict[str, str] = {
    **BROKER_METAVARS,
    "mqtt_client_id": "ID",
    "store_uri": "URI",
    "mongodb_uri": "URI",
    "http_addr": "HOST:PORT",
    "allowed_hosts": "NAMES",
    "allowed_origins": "ORIGINS",
    "http_max_connections": "N",
    "chargers": "ID:KW,...",
    "default_charger": "ID",
    "ocpp_addr": "HOST:PORT",
    "ocpp_charge_points": "ID[:PASSWORD],...",
    "ocpp_meter_interval": "SECONDS",
    "ocpp_heartbeat_interval": "SECONDS",
    "ocpp_cert_file": "PATH",
    "ocpp_key_file": "PATH",
    "sim_speed": "FACTOR",
    "tick_interval": "SECONDS",
    "start_timeout": "SECONDS",
    "session_updates": "{all,default,off}",
    "state_refresh": "SECONDS",
    "state_refresh_rate": "PER_SECOND",
    "battery_kwh": "KWH",
    "initial_soc": "FRACTION",
    "taper_soc": "FRACTION",
    "api_token": "TOKEN",
    "log_format": "{text,json}",
    "log_level": "LEVEL",
}
"""How `--help` names each setting's value (instead of its Python type)."""


def cli_source() -> CliSettingsSource[Settings]:
    """The command line as a settings source, with a `--help` that reads well."""
    return settings_source(Settings, METAVARS)


def parse_fleet(spec: str) -> list[ChargerSpec]:
    """`"CP1:22,CP2:11"` as charger specs; ids unique and topic-safe, powers positive.

    An empty (or blank) spec is no simulated charger at all.
    """
    fleet: list[ChargerSpec] = []
    if not spec.strip():
        return fleet
    for item in (part.strip() for part in spec.split(",")):
        charger_id, sep, power = item.partition(":")
        if not re.match(CHARGER_ID_PATTERN, charger_id):
            raise ValueError(f"charger id {charger_id!r} must match {CHARGER_ID_PATTERN}")
        try:
            max_kw = float(power) if sep else 22.0
        except ValueError:
            raise ValueError(
                f"charger {charger_id!r}: max power {power!r} is not a number"
            ) from None
        if not 0 < max_kw < 10_000:
            raise ValueError(f"charger {charger_id!r}: max power must be in (0, 10000) kW")
        if any(c.charger_id == charger_id for c in fleet):
            raise ValueError(f"charger {charger_id!r} is listed twice")
        fleet.append(ChargerSpec(charger_id, max_kw))
    return fleet


def connector_station(charger_id: str, points: ChargePointList) -> str | None:
    """The admitted charge point whose connector `charger_id` would be, if any."""
    station, sep, connector = charger_id.rpartition("-")
    if not sep or not connector.isdecimal() or not IDENTITY_PATTERN.fullmatch(station):
        return None
    if station in points.passwords or points.any_identity:
        return station
    return None
