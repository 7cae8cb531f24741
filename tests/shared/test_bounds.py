"""Session-query filters as MQTT payloads: strict types, sane ranges, UTC."""

import json
from datetime import UTC, datetime

import pytest
from evcsm_schema import SessionQuery
from pydantic import ValidationError

from tests.support.queries import BAD_QUERIES, BadQuery


@pytest.mark.parametrize("bad", BAD_QUERIES, ids=lambda bad: f"{bad.field}={bad.text[:24]}")
def test_bad_filters_are_refused_with_the_reason(bad: BadQuery) -> None:
    with pytest.raises(ValidationError) as caught:
        SessionQuery.model_validate_json(json.dumps({bad.field: bad.json}))
    (error,) = caught.value.errors(include_url=False)
    assert error["loc"] == (bad.field,)
    assert bad.json_why in error["msg"]


def test_digits_in_json_strings_are_not_numbers() -> None:
    with pytest.raises(ValidationError, match="whole number"):
        SessionQuery.model_validate_json(b'{"limit": "5"}')


def test_since_after_until_is_an_empty_range_not_an_error() -> None:
    query = SessionQuery.model_validate_json(
        b'{"since": "2026-01-16T00:00:00Z", "until": "2026-01-15T00:00:00Z"}'
    )
    assert query.since is not None
    assert query.until is not None
    assert query.since > query.until


def test_good_filters_are_kept_in_utc() -> None:
    query = SessionQuery.model_validate_json(
        b'{"since": "2026-01-15T09:00:00+01:00", "until": "9998-12-31T23:59:59Z",'
        b' "limit": 1000, "offset": 100000}'
    )
    assert query.since == datetime(2026, 1, 15, 8, tzinfo=UTC)
    assert query.since is not None
    assert query.since.tzinfo is UTC
    assert (query.limit, query.offset) == (1000, 100000)
    assert SessionQuery.model_validate_json(b"{}") == SessionQuery()
