"""OpenAPI documentation of the problem-details error responses."""

from typing import Any

from evcsm_schema import Problem

_PROBLEM: dict[str, Any] = {"model": Problem, "content": {"application/problem+json": {}}}

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {**_PROBLEM, "description": "Missing or wrong bearer token (mutating calls)."},
    404: {**_PROBLEM, "description": "Unknown charger, no such session, or no active session."},
    409: {**_PROBLEM, "description": "The charger rejected the start or stop request."},
    422: {**_PROBLEM, "description": "Malformed parameters or body."},
    503: {
        **_PROBLEM,
        "description": "The database is unavailable (nothing was changed), or did not confirm "
        "a start or stop (the detail says what is in effect), or the charger's station is not "
        "connected (charger_offline).",
    },
    504: {
        **_PROBLEM,
        "description": "The charger accepted the request but did not start or stop in time.",
    },
}
