"""The settings every EVCSM program reads the same way, and a `--help` that reads well.

`BrokerOptions` holds `EVCSM_MQTT_URL`, `EVCSM_MQTT_PASSWORD` and `EVCSM_MQTT_CA_FILE` (flags
`--mqtt-url`, `--mqtt-password`, `--mqtt-ca-file`), typed and checked when read, with the one
password rule of `evcsm_schema.broker`. `ProgramSettings` is the base of the daemon's and the
dashboard's settings: every setting a flag and an `EVCSM_` variable, in the same order of
precedence (command line, then environment, then default), each value read as text.

`cli_source` is the command line as a settings source, with `readable_help` as its
`add_argument`: every value gets a name (`URL`, `SECONDS`) instead of a Python type, and no
default reads `unset`.
"""

from argparse import Action, ArgumentParser
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from evcsm_schema.broker import DEFAULT_URL, BrokerAddress, BrokerUrl, parse_broker_url
from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, CliSettingsSource, SettingsConfigDict

BROKER_METAVARS = {"mqtt_url": "URL", "mqtt_password": "PASSWORD", "mqtt_ca_file": "PATH"}
"""How `--help` names the broker settings' values."""


class BrokerOptions(BaseModel):
    """Where the broker is and how to log in."""

    mqtt_url: BrokerAddress = Field(
        default=parse_broker_url(DEFAULT_URL),
        description="Broker: mqtt://[user[:password]@]host[:port], or mqtts:// for TLS.",
    )
    mqtt_password: SecretStr | None = Field(
        default=None,
        description="Broker password, kept out of the URL and the process list (a password "
        "in the URL too must be the same).",
    )
    mqtt_ca_file: Path | None = Field(
        default=None,
        description="CA bundle that verifies an mqtts:// broker (system CAs if unset).",
    )

    @model_validator(mode="after")
    def _one_password(self) -> "BrokerOptions":
        self.broker()
        return self

    def broker(self) -> BrokerUrl:
        """The broker with its password (from the URL or the setting) and CA bundle."""
        password = self.mqtt_password.get_secret_value() if self.mqtt_password else None
        return self.mqtt_url.with_password(password).with_ca_file(self.mqtt_ca_file)


class ProgramSettings(BrokerOptions, BaseSettings):
    """An EVCSM program's settings; a subclass names its program (`cli_prog_name`)."""

    model_config = SettingsConfigDict(
        env_prefix="EVCSM_",
        cli_kebab_case=True,
        cli_implicit_flags=True,
        extra="ignore",
        enable_decoding=False,  # every value is text (a URL, host:port, a path), never JSON
    )


S = TypeVar("S", bound=ProgramSettings)


def cli_source(settings: type[S], metavars: Mapping[str, str]) -> CliSettingsSource[S]:
    """The command line as a settings source, with a `--help` that reads well."""
    return CliSettingsSource(
        settings, cli_show_env_vars=True, add_argument_method=readable_help(metavars)
    )


def readable_help(metavars: Mapping[str, str]) -> Callable[..., Action]:
    """argparse's `add_argument` with value names from `metavars` and "unset" for no default."""

    def add_argument(parser: ArgumentParser, *names: str, **kwargs: Any) -> Action:  # noqa: ANN401 - argparse's keyword arguments
        field = names[0].removeprefix("--").replace("-", "_") if names else ""
        if field in metavars:
            kwargs["metavar"] = metavars[field]
        if isinstance(kwargs.get("help"), str):
            kwargs["help"] = kwargs["help"].replace("(default: null)", "(default: unset)")
        return parser.add_argument(*names, **kwargs)

    return add_argument
