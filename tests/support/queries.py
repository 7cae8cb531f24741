"""Session-query values a client must not get through, as a URL query and as a JSON payload."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BadQuery:
    """One refused filter: the field, its text in a URL, its value in JSON, why each is refused."""

    field: str
    text: str
    json: Any
    why: str
    why_json: str = ""

    @property
    def json_why(self) -> str:
        """Why the JSON value is refused."""
        return self.why_json or self.why


YEARS = "date-time string with a time zone in the years 1970 to 9998"

BAD_QUERIES = [
    BadQuery("since", "9999-12-31T23:59:59-23:59", "9999-12-31T23:59:59-23:59", YEARS),
    BadQuery("until", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z", YEARS),
    BadQuery("until", "0001-01-01T00:00:00+00:01", "0001-01-01T00:00:00+00:01", YEARS),
    BadQuery("since", "1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z", YEARS),
    BadQuery("until", "0.5", 0.5, YEARS),
    BadQuery("until", "1768464000", 1768464000, YEARS),
    BadQuery("since", "2026-01-15T08:00:00", "2026-01-15T08:00:00", YEARS),
    BadQuery("since", "2026-01-15", "2026-01-15", YEARS),
    BadQuery("since", "2026-01-15 08:00:00Z", "2026-01-15 08:00:00Z", YEARS),
    BadQuery("since", "2026-02-30T08:00:00Z", "2026-02-30T08:00:00Z", "day value is outside"),
    BadQuery("since", "yesterday", "yesterday", YEARS),
    BadQuery("limit", "true", True, "whole number"),
    BadQuery("limit", "1.0", 1.0, "whole number"),
    BadQuery("limit", "1e3", 1e3, "whole number"),
    BadQuery("limit", "0", 0, "greater than or equal to 1"),
    BadQuery("limit", "1001", 1001, "less than or equal to 1000"),
    BadQuery("offset", "-1", -1, "whole number", "greater than or equal to 0"),
    BadQuery("offset", "100001", 100001, "less than or equal to 100000"),
    BadQuery("offset", "9" * 40, int("9" * 40), "out of range", "less than or equal to 100000"),
]
