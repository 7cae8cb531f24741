"""Fixtures of the integration tests."""

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture
def _restore_logging() -> Iterator[None]:
    """`main()` sets up logging for a process; put the test runner's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
