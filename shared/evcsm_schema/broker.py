"""The broker a program connects to, as the daemon, the dashboard and every client take it.

`EVCSM_MQTT_URL` is `mqtt://[user[:password]@]host[:port]`, or `mqtts://` for TLS; user and
password are percent-encoded. One parser, so every program accepts exactly the same URLs.

The password may come from the URL or from `EVCSM_MQTT_PASSWORD` (which keeps it out of the URL
and the process list). One rule, the same in every program: whichever gives it is used, and when
both give one they must be the same: two different passwords are refused, since either choice
would leave the other silently unused (`BrokerUrl.with_password`).

`BrokerUrl` is the one type that says where the broker is and how to log in, with the CA bundle
that verifies an `mqtts://` broker (`EVCSM_MQTT_CA_FILE`). `BrokerAddress` is the same type as a
pydantic field that reads the URL's text.
"""

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

PORTS = {"mqtt": 1883, "mqtts": 8883}
"""Default port of each scheme."""
DEFAULT_URL = "mqtt://127.0.0.1:1883"
"""The broker of a program that is told none: Mosquitto on this machine."""


@dataclass(frozen=True)
class BrokerUrl:
    """Where the broker is and how to log in; `str()` and `label` leave the password out."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None
    """CA bundle that verifies an mqtts:// broker; the system's CAs when None."""

    @property
    def scheme(self) -> str:
        """`mqtts` with TLS, else `mqtt`."""
        return "mqtts" if self.tls else "mqtt"

    def __str__(self) -> str:
        """The address: scheme, host and port."""
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def label(self) -> str:
        """The address with the user name, to show on screen; never the password."""
        user = f"{self.username}@" if self.username else ""
        return f"{self.scheme}://{user}{self.host}:{self.port}"

    def with_password(self, password: str | None) -> "BrokerUrl":
        """The password of the one rule: the URL's or `password`, whichever is given.

        Raises ValueError when both are given and differ.
        """
        if not password or password == self.password:
            return self
        if self.password:
            raise ValueError(
                "the broker URL and the broker password setting (EVCSM_MQTT_PASSWORD) give "
                "different passwords: set only one"
            )
        return replace(self, password=password)

    def with_ca_file(self, ca_file: Path | None) -> "BrokerUrl":
        """The same broker, verified with `ca_file` (None: the system's CAs)."""
        return replace(self, ca_file=ca_file)


def parse_broker_url(url: str) -> BrokerUrl:
    """Parse a broker URL, or raise ValueError saying what is wrong with it."""
    try:
        parts = urlsplit(url.strip())
    except ValueError as exc:
        raise ValueError(f"the broker URL cannot be parsed: {url!r}") from exc
    if parts.scheme not in PORTS:
        raise ValueError(f"the broker URL must start with mqtt:// or mqtts://, not {url!r}")
    if not parts.hostname:
        raise ValueError(f"the broker URL names no host: {url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"the broker URL takes no path or query: {url!r}")
    try:
        port = parts.port or PORTS[parts.scheme]
    except ValueError as exc:
        raise ValueError(f"the broker URL has a bad port: {url!r}") from exc
    return BrokerUrl(
        host=parts.hostname,
        port=port,
        tls=parts.scheme == "mqtts",
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def _broker(value: Any) -> BrokerUrl:  # noqa: ANN401 - a setting's raw value
    """A BrokerUrl as it is, or one parsed from the URL's text."""
    if isinstance(value, BrokerUrl):
        return value
    if isinstance(value, str):
        return parse_broker_url(value)
    raise ValueError("must be a broker URL such as mqtt://127.0.0.1:1883")


BrokerAddress = Annotated[
    BrokerUrl,
    PlainValidator(_broker),
    PlainSerializer(lambda url: url.label, return_type=str),
    WithJsonSchema({"type": "string", "examples": [DEFAULT_URL]}),
]
"""A broker URL as a pydantic field: read from its text, written without the password."""
