"""Start and stop requests an OCPP charger accepted: the 202 answer and its `Location`.

A simulated charger acts at once, so its start and stop answer with the session (201 or 200)
as they always did. An OCPP station answers RemoteStartTransaction at once but starts its
transaction later (a driver plugs in, the car wakes up): the call answers 202 Accepted with the
request and a `Location` to poll, `/api/requests/{requestId}`, which shows it pending, then
done with the session, or failed with the error (start_timeout after EVCSM_START_TIMEOUT).
"""

from typing import Annotated, Any

from evcsm_schema import CommandAction, ErrorCode, ErrorInfo
from evcsm_schema.api import ChargerRequest, RequestState
from fastapi import APIRouter, Path, status
from fastapi.responses import JSONResponse

from evcsm_daemon.api.deps import Service
from evcsm_daemon.api.responses import ERRORS
from evcsm_daemon.errors import EvcsmError
from evcsm_daemon.pending import Pending

router = APIRouter(prefix="/api/requests", tags=["chargers"])

REQUEST_ID_PATTERN = r"^[0-9a-f-]{36}$"


def request_view(pending: Pending) -> ChargerRequest:
    """Where `pending` stands, as the REST API shows it."""
    error = pending.error
    info: ErrorInfo | None = None
    if isinstance(error, EvcsmError):
        info = error.info()
    elif error is not None:
        info = ErrorInfo(code=ErrorCode.INTERNAL, message="internal error; see the daemon log")
    state = RequestState.PENDING
    if pending.done:
        state = RequestState.FAILED if error is not None else RequestState.DONE
    return ChargerRequest(
        request_id=pending.request_id,
        charger_id=pending.charger_id,
        action=CommandAction(pending.kind.value),
        state=state,
        deadline=pending.deadline,
        session=pending.result if error is None else None,
        error=info,
    )


def accepted(pending: Pending) -> JSONResponse:
    """Answer 202 with the request and where to follow it."""
    return JSONResponse(
        request_view(pending).model_dump(mode="json", by_alias=True, exclude_none=True),
        status_code=status.HTTP_202_ACCEPTED,
        headers={"Location": f"{router.prefix}/{pending.request_id}"},
    )


ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "An OCPP charger accepted the request; `Location` shows its outcome.",
        "model": ChargerRequest,
    }
}


@router.get("/{request_id}", responses=ERRORS, response_model_exclude_none=True)
async def get_request(
    service: Service,
    request_id: Annotated[str, Path(pattern=REQUEST_ID_PATTERN, description="Request id.")],
) -> ChargerRequest:
    """A start or stop request: pending, done (with the session) or failed (with the error)."""
    return request_view(service.find_request(request_id))
