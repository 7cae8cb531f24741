"""OpenAPI documentation of the problem-details error responses."""

from typing import Any

from evcsm_schema import Problem

MEDIA_TYPE = "application/problem+json"
_PROBLEM: dict[str, Any] = {"model": Problem, "content": {MEDIA_TYPE: {}}}


def problem_response(description: str) -> dict[str, Any]:
    """An error response of the OpenAPI description: problem details, with its meaning."""
    return {**_PROBLEM, "description": description}


_problem = problem_response


ANY_REQUEST: dict[int | str, dict[str, Any]] = {
    400: _problem("Malformed request, or a Host this daemon does not serve."),
}
"""What any route may answer, before the route itself runs."""

ERRORS: dict[int | str, dict[str, Any]] = {
    **ANY_REQUEST,
    404: _problem("Unknown charger, no such session, or no active session."),
    409: _problem("The charger rejected the start or stop request."),
    422: _problem("Malformed parameters or body."),
    503: _problem(
        "The database is unavailable or not reached yet (nothing was changed), or did not"
        " confirm a start or stop (the detail says what is in effect), or the charger's station"
        " is not connected (charger_offline)."
    ),
    504: _problem("The charger accepted the request but did not start or stop in time."),
}
"""What a route that uses the database may answer."""

WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    401: _problem("Missing or wrong bearer token."),
    403: _problem("A write from another site's web page."),
    408: _problem("The request body did not arrive in time."),
    413: _problem("The request body is over 64 KiB."),
}
"""What a write may answer."""


def problems_as_problem_json(spec: dict[str, Any]) -> dict[str, Any]:
    """Put each error's Problem schema under application/problem+json, the type it is sent as.

    FastAPI files a response `model` under application/json; problem details are never sent so.
    """
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status.isdigit() and int(status) >= 400 and MEDIA_TYPE in content:
                    schema = content.pop("application/json", {})
                    content[MEDIA_TYPE] = schema or content[MEDIA_TYPE]
    return spec
