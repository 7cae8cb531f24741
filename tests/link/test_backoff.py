"""The one reconnect policy: jittered exponential backoff with a cap, tested once for every user."""

import random

import pytest
from evcsm_link.backoff import JITTER, Backoff, Retries


def test_the_ceiling_doubles_from_the_first_wait_up_to_the_cap() -> None:
    policy = Backoff(first=1.0, cap=30.0)
    assert [policy.ceiling(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert policy.ceiling(10_000) == 30.0


def test_every_wait_lies_in_the_top_fifth_of_its_ceiling_and_spreads() -> None:
    policy = Backoff(first=0.5, cap=15.0)
    rng = random.Random(7)  # noqa: S311 - a seeded sequence, nothing secret
    for failures in range(1, 12):
        waits = [policy.delay(failures, rng) for _ in range(200)]
        ceiling = policy.ceiling(failures)
        assert all(ceiling * (1 - JITTER) <= wait <= ceiling for wait in waits)
        assert len(set(waits)) > 100, "the waits are spread, not one value"


def test_retries_count_failures_until_a_success() -> None:
    retries = Retries(Backoff(first=1.0, cap=4.0))
    waits = [retries.failed() for _ in range(4)]
    for wait, ceiling in zip(waits, [1, 2, 4, 4], strict=True):
        assert ceiling * (1 - JITTER) <= wait <= ceiling
    assert retries.failures == 4
    retries.succeeded()
    assert retries.failed() <= 1.0


@pytest.mark.parametrize(("first", "cap"), [(0.0, 1.0), (2.0, 1.0), (-1.0, 5.0)])
def test_a_policy_that_cannot_wait_is_refused(first: float, cap: float) -> None:
    with pytest.raises(ValueError, match="first <= cap"):
        Backoff(first=first, cap=cap)
