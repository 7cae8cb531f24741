"""How much the REST server gives one client: sizes, deadlines and connections.

Every request the API serves is small (the largest body is a stop reason of 200 characters), so
the limits are tight. They bound what a client can make the daemon hold: at most
`max_connections` connections, each with at most `max_header` bytes of request head and
`max_body` bytes of body, and none of them for longer than a deadline while it sends nothing
useful. What happens at each limit:

- request head still incomplete past `max_header` bytes: 400, connection closed (h11's limit);
- head not complete `header_timeout` seconds after the connection opened or the previous
  response ended: connection closed (uvicorn has no such deadline; `api.server` adds it);
- no new request `keep_alive` seconds after a response: connection closed (uvicorn);
- request head over `max_header` bytes in all: 431 (h11 only counts a head still incomplete);
- body declared over `max_body` bytes: 413 at once, nothing read; a chunked body is cut off
  with 413 as soon as it passes the limit;
- the rest of a refused body: read and dropped up to `max_drain` bytes, so that the client
  sees the answer rather than a reset, then the connection is dropped;
- body not complete `body_timeout` seconds after the head: 408, connection closed;
- a client that does not read its response for `send_timeout` seconds: connection dropped;
- a connection beyond `max_connections`: the connection that has waited longest without a
  request being served is dropped to make room, or the new one when every connection is being
  served.
"""

from dataclasses import dataclass

MAX_BODY = 64 * 1024
MAX_HEADER = 16 * 1024
MAX_CONNECTIONS = 100


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """The REST server's limits; the defaults are the daemon's."""

    max_connections: int = MAX_CONNECTIONS
    max_header: int = MAX_HEADER
    max_body: int = MAX_BODY
    max_drain: int = 16 * MAX_BODY
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    send_timeout: float = 10.0
    keep_alive: int = 5
    shutdown_grace: int = 3
    """Requests still running this long after shutdown began are cancelled."""
