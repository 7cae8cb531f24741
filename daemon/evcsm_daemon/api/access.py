"""Who may call the REST API: the Host a request names, the page a write comes from, the token.

A browser lets any web page send a simple POST to any address, and a page whose name an attacker
points at 127.0.0.1 afterwards (DNS rebinding) even reads the answers. So:

- The `Host` of every request must be an IP address or `localhost` (an attacker's page cannot
  have either as its origin), a name in EVCSM_ALLOWED_HOSTS (`*.example.com` matches the
  sub-domains, `*` any host), or, when that is unset, the name the daemon listens on or, on a
  non-loopback address, the machine's host name.
- A write (any method but GET, HEAD and OPTIONS) that comes from a web page (`Origin`, or
  `Sec-Fetch-Site` without it) must come from the API's own origin, as the Swagger UI it serves
  does, or from an origin in EVCSM_ALLOWED_ORIGINS (`*` any). Tools such as curl send neither
  header and are not affected.
- A write needs `Authorization: Bearer <EVCSM_API_TOKEN>` when the token is set.
"""

import ipaddress
import secrets
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from evcsm_daemon.errors import CrossOrigin, Unauthorized, UnknownHost

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ANY = "*"
LOCALHOST = "localhost"
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Origin:
    """A web origin: scheme, host and port (the scheme's default when not given)."""

    scheme: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> "Origin":
        """`https://ops.example.com[:port]`; raises ValueError for anything else."""
        parts = urlsplit(text.strip().lower())
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"{text!r} is not an origin such as https://ops.example.com")
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            raise ValueError(f"{text!r} is not an origin: no path, query or user allowed")
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme]
        except ValueError:
            raise ValueError(f"{text!r} has a bad port") from None
        return cls(parts.scheme, parts.hostname.rstrip("."), port)

    def __str__(self) -> str:
        """As a browser sends it: the port only when it is not the scheme's default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port == DEFAULT_PORTS[self.scheme] else f":{self.port}"
        return f"{self.scheme}://{host}{port}"


def split_host(header: str) -> tuple[str, int | None]:
    """A Host header as (lower-case name or address, port or None); ValueError if malformed."""
    header = header.strip().lower()
    if header.startswith("["):
        host, bracket, rest = header[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError("malformed IPv6 host")
        port_text = rest[1:]
    else:
        host, _, port_text = header.partition(":")
    if not host:
        raise ValueError("empty host")
    if port_text and not (port_text.isdigit() and int(port_text) <= 65535):
        raise ValueError("bad port")
    return host.rstrip("."), int(port_text) if port_text else None


def is_ip(host: str) -> bool:
    """True for an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def parse_hosts(spec: str) -> tuple[str, ...]:
    """EVCSM_ALLOWED_HOSTS: comma-separated names, `*.domain` patterns, or `*`."""
    names = tuple(part.strip().lower().rstrip(".") for part in spec.split(",") if part.strip())
    for name in names:
        bare = name.removeprefix("*.")
        if name != ANY and (not bare or "*" in bare or "/" in bare or ":" in bare):
            raise ValueError(f"{name!r} is not a host name, a *.domain pattern or *")
    return names


def parse_origins(spec: str) -> tuple[str, ...]:
    """EVCSM_ALLOWED_ORIGINS: comma-separated origins such as https://ops.example.com, or `*`."""
    parts = [part.strip() for part in spec.split(",") if part.strip()]
    return tuple(part if part == ANY else str(Origin.parse(part)) for part in parts)


def default_hosts(listen_host: str) -> tuple[str, ...]:
    """The names to accept when EVCSM_ALLOWED_HOSTS is unset, from the listen address."""
    host = listen_host.lower()
    if host == LOCALHOST:
        return ()
    if not is_ip(host):
        return (host,)
    if ipaddress.ip_address(host).is_loopback:
        return ()
    return (socket.gethostname().lower(),)


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """Allowed hosts and origins, and the bearer token for writes."""

    hosts: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()
    token: str | None = None

    @classmethod
    def build(
        cls,
        listen_host: str,
        *,
        allowed_hosts: tuple[str, ...] | None = None,
        allowed_origins: tuple[str, ...] | None = None,
        token: str | None = None,
    ) -> "AccessPolicy":
        """The policy the settings describe (`parse_hosts`, `parse_origins`); unset hosts are
        derived from the listen host."""
        hosts = allowed_hosts if allowed_hosts else default_hosts(listen_host)
        return cls(hosts=hosts, origins=allowed_origins or (), token=token)

    def check(self, method: str, headers: dict[str, str]) -> None:
        """Raise UnknownHost, CrossOrigin or Unauthorized unless the request may proceed.

        `headers` have lower-case names.
        """
        host_header = headers.get("host")
        own: tuple[str, int | None] | None = None
        if host_header is not None:
            try:
                own = split_host(host_header)
            except ValueError:
                raise UnknownHost(f"malformed Host header {host_header[:100]!r}") from None
            if not self._host_allowed(own[0]):
                raise UnknownHost(
                    f"host {own[0][:100]!r} is not served here (see EVCSM_ALLOWED_HOSTS)"
                )
        if method in SAFE_METHODS:
            return
        self._check_origin(headers, own)
        self._check_token(headers.get("authorization", ""))

    def _host_allowed(self, host: str) -> bool:
        if is_ip(host) or host == LOCALHOST or ANY in self.hosts:
            return True
        return any(
            host == name or (name.startswith("*.") and host.endswith(name[1:]))
            for name in self.hosts
        )

    def _check_origin(self, headers: dict[str, str], own: tuple[str, int | None] | None) -> None:
        origin_header = headers.get("origin")
        if origin_header is None:
            site = headers.get("sec-fetch-site", "none")
            if site in ("cross-site", "same-site"):
                raise CrossOrigin(f"a {site} write from a web page is not allowed")
            return
        if ANY in self.origins:
            return
        try:
            origin = Origin.parse(origin_header)
        except ValueError:
            raise CrossOrigin(
                f"writes from origin {origin_header[:100]!r} are not allowed"
            ) from None
        # The API's own origin: same host and port. The scheme is not compared: behind a TLS
        # proxy the page is https while the daemon sees http, and no other server can serve a
        # page from this host and port.
        if own is not None and (origin.host, origin.port) == (
            own[0],
            own[1] or DEFAULT_PORTS[origin.scheme],
        ):
            return
        if str(origin) in self.origins:
            return
        raise CrossOrigin(
            f"writes from origin {origin_header[:100]!r} are not allowed (see EVCSM_ALLOWED_ORIGINS)"
        )

    def _check_token(self, authorization: str) -> None:
        if self.token is None:
            return
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            given.strip().encode(), self.token.encode()
        ):
            raise Unauthorized("a valid bearer token is required for this call")
