"""The ASGI guard in front of the API: access first, then a bounded body, then the app.

For every request, before any route runs and before a byte of body is read: the access policy
(`api.access`: Host, the origin of a write, the bearer token), then the declared size. Only then
is the body read, at most `max_body` bytes within `body_timeout` seconds, and handed to the app,
which never waits on a client again. Every refusal is a problem-details response that closes the
one log line.
"""

import asyncio

from evcsm_schema import ErrorCode
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from evcsm_daemon.api.access import AccessPolicy
from evcsm_daemon.api.limits import HttpLimits
from evcsm_daemon.api.problems import STATUS_OF, log_problem, problem
from evcsm_daemon.errors import EvcsmError, PayloadTooLarge

CLOSE = {"Connection": "close"}


class _BodyTimeout(Exception):
    """The body did not arrive in time."""


class RequestGuard:
    """Pure ASGI middleware: refuse what the policy and the limits forbid, buffer the body."""

    def __init__(self, app: ASGIApp, *, policy: AccessPolicy, limits: HttpLimits) -> None:
        self.app = app
        self.policy = policy
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check, read the body, then run the app with the body replayed."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        headers = request.headers
        if (size := _head_size(scope)) > self.limits.max_header:
            message = (
                f"request head of {size} bytes is over the {self.limits.max_header} byte limit"
            )
            await _refusal(scope, 431, ErrorCode.BAD_REQUEST, message)(scope, receive, send)
            return
        try:
            self.policy.check(request.method, dict(headers))
            declared = self._declared_size(headers)
            if declared is None or declared > 0:
                body = await self._read_body(receive)
                if body is None:
                    return  # the client went away
                receive = _replay(body, receive)
        except EvcsmError as exc:
            await _refusal(scope, STATUS_OF[exc.code], exc.code, exc.message)(scope, receive, send)
            return
        except _BodyTimeout:
            message = f"request body not received within {self.limits.body_timeout:g} s"
            response = _refusal(scope, 408, ErrorCode.BAD_REQUEST, message, close=True)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _declared_size(self, headers: Headers) -> int | None:
        """The Content-Length (0 without a body), None for a chunked body; too large raises."""
        if "transfer-encoding" in headers:
            return None
        length = int(headers.get("content-length", "0"))  # h11 has checked it is a number
        if length > self.limits.max_body:
            raise PayloadTooLarge(
                f"request body of {length} bytes is over the {self.limits.max_body} byte limit"
            )
        return length

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or None if the client disconnected; too large or too slow raises."""
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.limits.body_timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return None
                    chunk: bytes = message.get("body", b"")
                    size += len(chunk)
                    if size > self.limits.max_body:
                        raise PayloadTooLarge(
                            f"request body is over the {self.limits.max_body} byte limit"
                        )
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        return b"".join(chunks)
        except TimeoutError:
            raise _BodyTimeout from None


def _refusal(
    scope: Scope, status: int, code: ErrorCode, detail: str, *, close: bool = False
) -> Response:
    """The problem response that turns a request away, logged once.

    A body the client is still sending is drained by the server, within limits, so that the
    client reads this answer rather than a reset connection (`api.server`).
    """
    request = Request(scope)
    log_problem(request, status, detail)
    return problem(request, status, code, detail, CLOSE if close else None)


def _head_size(scope: Scope) -> int:
    """Bytes of the request line and headers, near enough."""
    target = len(scope.get("raw_path", b"")) + len(scope.get("query_string", b""))
    return target + sum(len(name) + len(value) + 4 for name, value in scope["headers"])


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the buffered body first, then waits on the client as usual."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
