"""Filter values as clients send them, checked strictly at the edge.

A date-time filter is an RFC 3339 string with its offset (`2026-01-15T08:00:00Z`,
`...+01:00`) in the years 1970 to 9998: a bare number is not read as a Unix time, a date-time
without offset is not guessed to be UTC, and no value can fall outside what a datetime holds
once moved to UTC (`9999-12-31T23:59:59-23:59` used to). The same pattern is in the JSON
Schema and the OpenAPI description, so what is documented is exactly what is accepted. The
value is kept in UTC.

A whole number is an integer: in JSON a number without fraction (not `true`, not `5.0`), in a
URL query string the digits alone (`5`, not `5.0` or `1e3`).
"""

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, ValidationInfo, WithJsonSchema

FIRST_YEAR = 1970
LAST_YEAR = 9998
"""A year before 9999, so that no offset can push a date-time past what Python holds."""

DATE_TIME_PATTERN = (
    r"^(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
    r"-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
"""RFC 3339 date-time with an offset, in the years FIRST_YEAR to LAST_YEAR."""

_DATE_TIME = re.compile(DATE_TIME_PATTERN, re.ASCII)
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_MAX_DIGITS = 20


def _date_time_text(value: Any) -> Any:  # noqa: ANN401 - whatever a client sent
    """Let through a datetime (built in Python) or an RFC 3339 string with its offset."""
    if isinstance(value, datetime) or (isinstance(value, str) and _DATE_TIME.match(value)):
        return value
    raise ValueError(
        f"must be a date-time string with a time zone in the years {FIRST_YEAR} to"
        f" {LAST_YEAR}, such as 2026-01-15T08:00:00Z"
    )


def _in_utc(value: datetime) -> datetime:
    """The same instant in UTC."""
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"must be in the years {FIRST_YEAR} to {LAST_YEAR}")
    return value.astimezone(UTC)


def _whole_number(value: Any, info: ValidationInfo) -> Any:  # noqa: ANN401 - whatever a client sent
    """Let through an int (not a bool), or in a query string the digits alone."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if info.mode != "json" and isinstance(value, str) and _DIGITS.fullmatch(value):
        if len(value) > _MAX_DIGITS:
            raise ValueError("is out of range")
        return int(value)
    raise ValueError("must be a whole number")


FilterTime = Annotated[
    AwareDatetime,
    BeforeValidator(_date_time_text),
    AfterValidator(_in_utc),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": DATE_TIME_PATTERN}),
]
"""A date-time filter: RFC 3339 with an offset, years 1970 to 9998, kept in UTC."""

WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
"""An integer sent as an integer: no bool, no fraction, no exponent."""

__all__ = ["DATE_TIME_PATTERN", "FIRST_YEAR", "LAST_YEAR", "FilterTime", "WholeNumber"]
