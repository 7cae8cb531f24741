"""The daemon's errors, one hierarchy: every error a client or a station can be told of.

    EvcsmError                   base; carries the shared `ErrorCode` clients see
    ├── BadRequest               malformed payload or parameters (bad_request)
    │   └── UnknownHost          a Host this daemon does not serve (bad_request, REST 400)
    ├── PayloadTooLarge          payload over the size limit (payload_too_large)
    ├── UnknownCharger           no such charger configured (unknown_charger)
    │   ├── NoDefaultCharger     a seed call, but no default charger is configured
    │   └── UnknownStation       no OCPP charge point with that identity
    ├── NoActiveSession          stop on an idle charger (no_active_session)
    ├── SessionNotFound          no session with that id (not_found)
    ├── RequestNotFound          no start or stop request with that id (not_found)
    ├── StartRejected            the charger rejected a start request (start_rejected)
    ├── StartTimeout             it accepted, but began no session in time (start_timeout)
    ├── StopRejected             the charger rejected a stop request (stop_rejected)
    ├── StopTimeout              it accepted, but did not end the session in time (stop_timeout)
    ├── StoreError               the session store failed a call (unavailable)
    │   ├── StoreUnavailable     it did not answer, or refused: nothing changed
    │   └── WriteNotConfirmed    a write was sent but not confirmed: it may or may not be applied
    ├── ChargerCommandError      a request or command to a charger was not carried out (unavailable)
    │   ├── ChargerOffline       its station is not connected, or not accepted (charger_offline)
    │   ├── ChargerNoAnswer      no answer in time, or the connection dropped (charger_no_answer)
    │   ├── ChargerRefused       the station answered a CALLERROR (charger_refused)
    │   └── ChargerBadAnswer     the station's answer breaks the OCPP schema (charger_refused)
    ├── CrossOrigin              a REST write from another site's web page (forbidden, 403)
    └── Unauthorized             a REST write without the bearer token (unauthorized, 401)

The REST access policy (`api.access`) raises the last two and `UnknownHost`; charger drivers
(`chargers/`) raise the `ChargerCommandError` kinds. Each adapter maps these to its clients in
one place: MQTT error replies in `mqtt.handlers`, RFC 9457 problem details in `api.problems`.
Library errors are caught at the adapter that meets them and re-raised as one of these with
`from`.

A few exceptions never leave the adapter that raises them, and are not part of this tree: the
OCPP adapter's `RpcError` (`chargers.ocpp.rpc`, a fault answered to the station as a CALLERROR),
the SQLite store's `CommitFailed` (turned into `StoreUnavailable` or `WriteNotConfirmed`), and
the REST guard's body deadline (answered 408).
"""

from evcsm_schema import ErrorCode, ErrorInfo


class EvcsmError(Exception):
    """Base of every error the daemon reports to a client."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def info(self) -> ErrorInfo:
        """The error as the wire contract describes it."""
        return ErrorInfo(code=self.code, message=self.message)


class BadRequest(EvcsmError):
    """The payload or parameters are malformed."""

    code = ErrorCode.BAD_REQUEST


class UnknownHost(BadRequest):
    """The request names a host this daemon does not serve (REST 400)."""


class PayloadTooLarge(EvcsmError):
    """The payload is over the size limit."""

    code = ErrorCode.PAYLOAD_TOO_LARGE


class UnknownCharger(EvcsmError):
    """No charger with that id is configured."""

    code = ErrorCode.UNKNOWN_CHARGER

    def __init__(self, charger_id: str) -> None:
        super().__init__(f"unknown charger {charger_id!r}")


class NoDefaultCharger(UnknownCharger):
    """A seed call (no charger named) on a daemon without a default charger."""

    def __init__(self) -> None:
        EvcsmError.__init__(
            self,
            "no default charger: no simulated charger is configured, so the seed's calls need "
            "EVCSM_DEFAULT_CHARGER (such as an OCPP connector, CP-7-1)",
        )


class UnknownStation(UnknownCharger):
    """No charge point with that identity is admitted or was ever seen."""

    def __init__(self, station_id: str) -> None:
        EvcsmError.__init__(self, f"unknown charge point {station_id!r}")


class NoActiveSession(EvcsmError):
    """A stop was asked for a charger that is not charging."""

    code = ErrorCode.NO_ACTIVE_SESSION

    def __init__(self, charger_id: str) -> None:
        super().__init__(f"no active session on charger {charger_id!r}")


class SessionNotFound(EvcsmError):
    """No session matches."""

    code = ErrorCode.NOT_FOUND


class RequestNotFound(EvcsmError):
    """No start or stop request with that id is known."""

    code = ErrorCode.NOT_FOUND


class StartRejected(EvcsmError):
    """The charger rejected the start request (start_rejected)."""

    code = ErrorCode.START_REJECTED


class StartTimeout(EvcsmError):
    """The charger accepted a start but began no transaction in time (start_timeout)."""

    code = ErrorCode.START_TIMEOUT


class StopRejected(EvcsmError):
    """The charger rejected the stop request (stop_rejected)."""

    code = ErrorCode.STOP_REJECTED


class StopTimeout(EvcsmError):
    """The charger accepted a stop but did not end its transaction in time (stop_timeout)."""

    code = ErrorCode.STOP_TIMEOUT


class StoreError(EvcsmError):
    """The session store failed a call; the subclass says whether anything changed."""

    code = ErrorCode.UNAVAILABLE


class StoreUnavailable(StoreError):
    """The database could not be reached, or refused the call; nothing was changed."""


class WriteNotConfirmed(StoreError):
    """A write reached the database, or may have, but no answer came: it may be applied or not.

    Every store write is idempotent (keyed by the session's UUID), so repeating it tells which;
    the service does that, and keeps the write to settle later when even the repeat fails.
    """


class ChargerCommandError(EvcsmError):
    """A request or command to a charger was not carried out."""

    code = ErrorCode.UNAVAILABLE


class ChargerOffline(ChargerCommandError):
    """The station is not connected, or its identity is not accepted (charger_offline)."""

    code = ErrorCode.CHARGER_OFFLINE

    def __init__(self, station_id: str) -> None:
        super().__init__(f"charge point {station_id!r} is not connected")


class ChargerNoAnswer(ChargerCommandError):
    """The station did not answer in time, or its connection dropped while waiting."""

    code = ErrorCode.CHARGER_NO_ANSWER


class ChargerRefused(ChargerCommandError):
    """The station answered the command with a CALLERROR."""

    code = ErrorCode.CHARGER_REFUSED

    def __init__(self, message: str, ocpp_error: str) -> None:
        super().__init__(message)
        self.ocpp_error = ocpp_error


class ChargerBadAnswer(ChargerCommandError):
    """The station's answer is not what OCPP 1.6 allows."""

    code = ErrorCode.CHARGER_REFUSED


class CrossOrigin(EvcsmError):
    """A REST write from another site's web page (403)."""

    code = ErrorCode.FORBIDDEN


class Unauthorized(EvcsmError):
    """A REST write without the right bearer token (401)."""

    code = ErrorCode.UNAUTHORIZED
