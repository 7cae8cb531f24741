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


BAD_QUERIES = [
    BadQuery("since", "9999-12-31T23:59:59-23:59", "9999-12-31T23:59:59-23:59", "out of range"),
    BadQuery("until", "0001-01-01T00:00:00+00:01", "0001-01-01T00:00:00+00:01", "out of range"),
    BadQuery("since", "1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z", "before 1970"),
    BadQuery("until", "0.5", 0.5, "date-time string"),
    BadQuery("until", "1768464000", 1768464000, "date-time string"),
    BadQuery("since", "2026-01-15T08:00:00", "2026-01-15T08:00:00", "time zone"),
    BadQuery("since", "2026-01-15", "2026-01-15", "time zone"),
    BadQuery("since", "yesterday", "yesterday", "date-time string"),
    BadQuery("limit", "true", True, "whole number"),
    BadQuery("limit", "1.0", 1.0, "whole number"),
    BadQuery("limit", "1e3", 1e3, "whole number"),
    BadQuery("limit", "0", 0, "greater than or equal to 1"),
    BadQuery("limit", "1001", 1001, "less than or equal to 1000"),
    BadQuery("offset", "-1", -1, "whole number", "greater than or equal to 0"),
    BadQuery("offset", "100001", 100001, "less than or equal to 100000"),
    BadQuery("offset", "9" * 40, int("9" * 40), "out of range", "less than or equal to 100000"),
]
