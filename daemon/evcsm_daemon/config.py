"""Settings: every one an environment variable (`EVCSM_...`) and a command-line flag."""

import re
from typing import Annotated, Literal

from evcsm_schema import CHARGER_ID_PATTERN
from evcsm_schema.broker import parse_broker_url
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from evcsm_daemon.chargers.base import ChargerSpec
from evcsm_daemon.store import check_uri

DEFAULT_STORE = "mongodb://localhost:27017/evcsm"


class Settings(BaseSettings):
    """How the daemon is configured."""

    model_config = SettingsConfigDict(
        env_prefix="EVCSM_",
        cli_prog_name="evcsm-daemon",
        cli_kebab_case=True,
        cli_implicit_flags=True,
        extra="ignore",
    )

    mqtt_url: str = Field(
        default="mqtt://127.0.0.1:1883",
        description="Broker: mqtt://[user[:password]@]host[:port] or mqtts:// for TLS.",
    )
    mqtt_password: SecretStr | None = Field(
        default=None, description="Broker password (overrides the one in the URL)."
    )
    mqtt_ca_file: str | None = Field(
        default=None, description="CA bundle to verify an mqtts:// broker (system CAs if unset)."
    )
    mqtt_client_id: str = Field(default="evcsm-daemon", description="MQTT client id.")
    store_uri: str = Field(
        default=DEFAULT_STORE,
        description="Where sessions are stored: a mongodb:// or mongodb+srv:// URI (replica sets "
        "welcome), sqlite:PATH for a local file, or 'memory' (lost on exit; for tests).",
    )
    mongodb_uri: str = Field(
        default=DEFAULT_STORE,
        description="The earlier name of --store-uri, still read; set one of the two.",
    )
    http_addr: str = Field(default="127.0.0.1:5274", description="REST API listen host:port.")
    chargers: str = Field(
        default="CP1:22",
        description="The fleet: comma-separated id:max_kW (the first is the seed's default).",
    )
    sim_speed: float = Field(default=1.0, gt=0, description="Simulated clock speed-up.")
    tick_interval: float = Field(default=1.0, gt=0, description="Seconds between meter ticks.")
    session_updates: Literal["all", "default", "off"] = Field(
        default="all",
        description="Which sessions get the seed's per-session message on session/updates at "
        "each tick: all, the default charger's only (what the seed's clients read), or none. "
        "evcsm/fleet/updates carries every session's reading either way.",
    )
    battery_kwh: float = Field(default=60.0, gt=0, description="Simulated battery capacity.")
    initial_soc: float = Field(default=0.2, ge=0, le=1, description="Simulated starting SoC.")
    taper_soc: float = Field(default=0.8, ge=0, lt=1, description="SoC where power tapers.")
    api_token: SecretStr | None = Field(
        default=None, description="Bearer token required by mutating REST calls when set."
    )
    log_format: Annotated[str, Field(pattern="^(text|json)$")] = Field(
        default="text", description="Log line format: text or json."
    )
    log_level: str = Field(default="INFO", description="Log level.")

    @field_validator("chargers")
    @classmethod
    def _fleet_parses(cls, value: str) -> str:
        parse_fleet(value)
        return value

    @field_validator("http_addr")
    @classmethod
    def _addr_parses(cls, value: str) -> str:
        split_addr(value)
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _url_parses(cls, value: str) -> str:
        parse_broker_url(value)
        return value

    @field_validator("store_uri", "mongodb_uri")
    @classmethod
    def _store_known(cls, value: str) -> str:
        return check_uri(value)

    @model_validator(mode="after")
    def _one_store(self) -> "Settings":
        """`store_uri` and its earlier name `mongodb_uri` hold the same value: the one set."""
        given = {"store_uri", "mongodb_uri"} & self.model_fields_set
        if given == {"store_uri", "mongodb_uri"} and self.store_uri != self.mongodb_uri:
            raise ValueError("store_uri and mongodb_uri (its earlier name) differ: set only one")
        chosen = self.mongodb_uri if given == {"mongodb_uri"} else self.store_uri
        self.store_uri = self.mongodb_uri = chosen
        return self

    def fleet(self) -> list[ChargerSpec]:
        """The configured chargers."""
        return parse_fleet(self.chargers)


def parse_fleet(spec: str) -> list[ChargerSpec]:
    """`"CP1:22,CP2:11"` as charger specs; ids unique and topic-safe, powers positive."""
    fleet: list[ChargerSpec] = []
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


def split_addr(addr: str) -> tuple[str, int]:
    """`host:port` (IPv6 in brackets) as a pair."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{addr!r} is not host:port")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - an empty host means all
