"""Fixtures shared by every test package."""

from collections.abc import Iterator

import pytest
from evcsm_daemon.store.connect import reset_memory
from hypothesis import settings

from tests.support.broker import Mosquitto


@pytest.fixture
def broker() -> Iterator[Mosquitto]:
    """A fresh, open Mosquitto on a free loopback port, stopped after the test."""
    with Mosquitto() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_memory_store() -> Iterator[None]:
    """Every test starts with an empty in-process database."""
    reset_memory()
    yield
    reset_memory()


# Property tests: a few hundred examples each in every run; `--hypothesis-profile=long` for a
# deeper search (docs/testing.md).
settings.register_profile("default", max_examples=150, deadline=None)
settings.register_profile("long", max_examples=5_000, deadline=None)
settings.load_profile("default")
