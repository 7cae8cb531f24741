"""The broker address, as the daemon and every client take it (`EVCSM_MQTT_URL`).

`mqtt://[user[:password]@]host[:port]`, or `mqtts://` for TLS; user and password are
percent-encoded. One parser, so the daemon and the dashboard accept exactly the same URLs.
"""

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

PORTS = {"mqtt": 1883, "mqtts": 8883}
"""Default port of each scheme."""


@dataclass(frozen=True)
class BrokerUrl:
    """A broker URL taken apart; `str()` leaves the credentials out."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


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
