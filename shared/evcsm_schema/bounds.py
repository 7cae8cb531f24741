"""Filter values as clients send them, checked strictly at the edge.

A date-time filter is a string in RFC 3339 form with its offset (`2026-01-15T08:00:00Z`,
`...+01:00`): a bare number is not read as a Unix time, a date-time without offset is not
guessed to be UTC, and a value that does not fit between 1970 and year 9999 once moved to UTC
(`9999-12-31T23:59:59-23:59`) is refused rather than passed on to the database. It is kept in
UTC.

A whole number is an integer: in JSON a number without fraction (not `true`, not `5.0`), in a
URL query string the digits alone (`5`, not `5.0` or `1e3`).
"""

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, ValidationInfo

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
"""No session starts before the Unix epoch."""

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:[Zz]|[+-]\d{2}:\d{2})",
    re.ASCII,
)
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_MAX_DIGITS = 20


def _date_time_text(value: Any) -> Any:  # noqa: ANN401 - whatever a client sent
    """Let through a datetime (built in Python) or an RFC 3339 string with its offset."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _RFC3339.fullmatch(value):
        return value
    raise ValueError("must be a date-time string with a time zone, such as 2026-01-15T08:00:00Z")


def _in_utc(value: datetime) -> datetime:
    """The same instant in UTC, refused when it falls outside 1970 to year 9999."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range: it falls outside years 1 to 9999 in UTC") from None
    if utc < EARLIEST:
        raise ValueError("is out of range: it is before 1970-01-01T00:00:00Z")
    return utc


def _whole_number(value: Any, info: ValidationInfo) -> Any:  # noqa: ANN401 - whatever a client sent
    """Let through an int (not a bool), or in a query string the digits alone."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if info.mode != "json" and isinstance(value, str) and _DIGITS.fullmatch(value):
        if len(value) > _MAX_DIGITS:
            raise ValueError("is out of range")
        return int(value)
    raise ValueError("must be a whole number")


FilterTime = Annotated[AwareDatetime, BeforeValidator(_date_time_text), AfterValidator(_in_utc)]
"""A date-time filter: RFC 3339 with an offset, between 1970 and year 9999, kept in UTC."""

WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
"""An integer sent as an integer: no bool, no fraction, no exponent."""

__all__ = ["EARLIEST", "FilterTime", "WholeNumber"]
