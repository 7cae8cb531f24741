"""Fixtures shared by every test package."""

from collections.abc import Iterator

import pytest

from tests.support.broker import Mosquitto


@pytest.fixture
def broker() -> Iterator[Mosquitto]:
    """A fresh, open Mosquitto on a free loopback port, stopped after the test."""
    with Mosquitto() as running:
        yield running
