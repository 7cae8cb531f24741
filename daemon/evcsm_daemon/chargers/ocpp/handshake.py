"""Who may open a connection: path, identity, subprotocol and password, before the upgrade.

A charge point connects to `/ocpp/{chargePointId}` (or `/{chargePointId}`), offering the
`ocpp1.6` subprotocol. An identity listed with a password must send it with HTTP Basic (OCPP
security profile 1), its identity as the user name; the comparison takes the same time however
much of the password is right. Everything else is refused with an HTTP status and a one-line
reason.
"""

import hmac
import re
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import unquote

from websockets.datastructures import Headers
from websockets.exceptions import InvalidHeader
from websockets.headers import (
    build_www_authenticate_basic,
    parse_authorization_basic,
    parse_subprotocol,
)

from evcsm_daemon.chargers.ocpp.config import IDENTITY_PATTERN, Admission, ChargePointList

SUBPROTOCOL = "ocpp1.6"
REALM = "EVCSM OCPP"
_PATH = re.compile(r"/(?:ocpp/)?([^/]+)")


@dataclass(frozen=True, slots=True)
class Admitted:
    """The handshake may go on."""

    identity: str
    admission: Admission


@dataclass(frozen=True, slots=True)
class Refused:
    """The handshake is refused with `status`; `reason` goes to the log and the body."""

    status: HTTPStatus
    reason: str
    challenge: bool = False
    """Send a Basic `WWW-Authenticate` challenge (401)."""

    @property
    def www_authenticate(self) -> str:
        """The challenge header's value."""
        return build_www_authenticate_basic(REALM)


def identity_of(path: str) -> str | None:
    """The charge point identity a request path names, or None."""
    match = _PATH.fullmatch(path.partition("?")[0])
    if match is None:
        return None
    identity = unquote(match.group(1))
    return identity if IDENTITY_PATTERN.fullmatch(identity) else None


def check(path: str, headers: Headers, charge_points: ChargePointList) -> Admitted | Refused:
    """Admit or refuse one opening handshake."""
    match = _PATH.fullmatch(path.partition("?")[0])
    if match is None:
        return Refused(HTTPStatus.NOT_FOUND, "path is not /ocpp/{chargePointId}")
    identity = identity_of(path)
    if identity is None:
        return Refused(
            HTTPStatus.BAD_REQUEST,
            f"charge point id must match {IDENTITY_PATTERN.pattern}",
        )
    try:
        offered = [
            protocol
            for value in headers.get_all("Sec-WebSocket-Protocol")
            for protocol in parse_subprotocol(value)
        ]
    except InvalidHeader:
        offered = []
    if SUBPROTOCOL not in offered:
        shown = ", ".join(offered)[:80] or "none"
        return Refused(
            HTTPStatus.BAD_REQUEST, f"subprotocol {SUBPROTOCOL} is required (offered: {shown})"
        )
    admission = charge_points.admission(identity)
    if admission is Admission.PASSWORD:
        refusal = _check_password(identity, headers, charge_points)
        if refusal is not None:
            return refusal
    return Admitted(identity, admission)


def _check_password(
    identity: str, headers: Headers, charge_points: ChargePointList
) -> Refused | None:
    expected = charge_points.password(identity) or ""
    try:
        authorization = headers["Authorization"]
    except LookupError:  # none, or several
        return Refused(HTTPStatus.UNAUTHORIZED, "password required (HTTP Basic)", challenge=True)
    try:
        user, password = parse_authorization_basic(authorization)
    except InvalidHeader:
        return Refused(HTTPStatus.UNAUTHORIZED, "malformed Basic credentials", challenge=True)
    right = hmac.compare_digest(
        password.encode(errors="surrogateescape"), expected.encode(errors="surrogateescape")
    )
    if user != identity or not right:
        return Refused(HTTPStatus.UNAUTHORIZED, "wrong user name or password", challenge=True)
    return None
