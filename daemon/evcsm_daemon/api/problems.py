"""Errors as RFC 9457 problem details, mapped from the daemon's errors in one place."""

import logging
from collections.abc import Mapping
from http import HTTPStatus

from evcsm_schema import ErrorCode, Problem
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from evcsm_daemon.api.responses import MEDIA_TYPE
from evcsm_daemon.errors import EvcsmError

log = logging.getLogger(__name__)


STATUS_OF: dict[ErrorCode, int] = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNKNOWN_CHARGER: 404,
    ErrorCode.NO_ACTIVE_SESSION: 404,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.CHARGER_OFFLINE: 503,
    ErrorCode.CHARGER_NO_ANSWER: 504,
    ErrorCode.CHARGER_REFUSED: 502,
    ErrorCode.START_REJECTED: 409,
    ErrorCode.START_TIMEOUT: 504,
    ErrorCode.STOP_REJECTED: 409,
    ErrorCode.STOP_TIMEOUT: 504,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.INTERNAL: 500,
}
CODE_OF_STATUS: dict[int, ErrorCode] = {
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    503: ErrorCode.UNAVAILABLE,
}
"""Codes of the HTTP errors Starlette raises itself (405 and the like are bad_request)."""


def log_problem(request: Request, status: int, detail: str) -> None:
    """The one log line of a request answered with an error."""
    log.info("%s %s: %d %s", request.method, request.url.path, status, detail)


def problem(
    request: Request,
    status: int,
    code: ErrorCode,
    detail: str,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A problem-details response, with any extra `headers` (Allow, Retry-After...)."""
    body = Problem(
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
        code=code,
    )
    extra = dict(headers or {})
    if status == 401:
        extra.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse(
        body.model_dump(mode="json", by_alias=True, exclude_none=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=extra or None,
    )


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem details."""

    @app.exception_handler(EvcsmError)
    async def _domain(request: Request, exc: EvcsmError) -> JSONResponse:
        status = STATUS_OF[exc.code]
        log_problem(request, status, exc.message)
        return problem(request, status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for error in list(exc.errors())[:3]:
            where = ".".join(str(level) for level in error.get("loc", ())) or "request"
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
            parts.append(f"{where}: {message}")
        detail = "; ".join(parts) or "invalid request"
        log_problem(request, 422, detail)
        return problem(request, 422, ErrorCode.BAD_REQUEST, detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = CODE_OF_STATUS.get(exc.status_code, ErrorCode.BAD_REQUEST)
        log_problem(request, exc.status_code, str(exc.detail))
        return problem(request, exc.status_code, code, str(exc.detail), exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return problem(request, 500, ErrorCode.INTERNAL, "internal error; see the daemon log")


__all__ = ["MEDIA_TYPE", "STATUS_OF", "install", "log_problem", "problem"]
